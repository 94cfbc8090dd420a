def _todo(): pass
