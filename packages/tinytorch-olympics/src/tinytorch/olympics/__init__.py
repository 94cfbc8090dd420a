"""tinytorch.olympics: the TorchPerf Olympics, fair and validated.

Layer 6 of the TinyTorch stack. An athlete optimizes a model; the Olympics
measure the optimized model against its baseline on the same machine with
``tinytorch.perf`` (MLPerf-style SingleStream and Offline scenarios, memory,
accuracy), turn the measurements into hardware-independent scores, and
check the result against the rules of its division and event.

* :func:`generate_submission`: measure both models, score them, write the
  submission JSON (atomically, never clobbering a file unless asked).
* :func:`validate_submission`: the JSON Schema and every rule; never raises.
* :class:`ClassificationData`, :class:`GenerationData`, :class:`TextGenerator`:
  the two kinds of task a submission is measured on.
* :func:`describe_architecture`: the structural signature the closed
  division compares.
* ``python -m tinytorch.olympics events | run | validate FILE | submit FILE``.

>>> from tinytorch.olympics import validate_submission
>>> validate_submission({"athlete_name": "ada"})["valid"]
False
"""

from .architecture import architecture_signature, describe_architecture
from .submission import (
    DIVISIONS,
    EVENT_PREFERENCE,
    MAX_SUBMISSION_BYTES,
    SCHEMA_VERSION,
    choose_event,
    generate_submission,
    package_versions,
    predictions_sha256,
    read_submission,
    utc_timestamp,
    write_submission,
)
from .summary import format_events, format_summary
from .tasks import ClassificationData, GenerationData, TextGenerator, as_task_data
from .validation import (
    CLOSED_MAX_ACCURACY_GAIN,
    CLOSED_MIN_ACCURACY_RATIO,
    COMPRESSION_ERROR,
    COMPRESSION_WARN,
    REQUIRED_FIELDS,
    SCORE_RTOL,
    SPEEDUP_ERROR,
    SPEEDUP_WARN,
    check_repo_url,
    format_report,
    load_schema,
    validate_submission,
)

__version__ = "0.2.4"

__all__ = [
    "__version__",
    "generate_submission", "write_submission", "read_submission", "choose_event",
    "package_versions", "predictions_sha256", "utc_timestamp",
    "SCHEMA_VERSION", "DIVISIONS", "EVENT_PREFERENCE", "MAX_SUBMISSION_BYTES",
    "validate_submission", "load_schema", "check_repo_url", "format_report",
    "REQUIRED_FIELDS", "SPEEDUP_WARN", "SPEEDUP_ERROR", "COMPRESSION_WARN",
    "COMPRESSION_ERROR", "CLOSED_MIN_ACCURACY_RATIO", "CLOSED_MAX_ACCURACY_GAIN", "SCORE_RTOL",
    "ClassificationData", "GenerationData", "TextGenerator", "as_task_data",
    "describe_architecture", "architecture_signature",
    "format_summary", "format_events",
]
