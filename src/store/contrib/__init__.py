"""Integrations of ``store`` with web frameworks (``store.contrib.django``, Flask) and the
value codecs they share (``store.contrib.codecs``). Each framework is an optional extra:
nothing here is imported by ``store`` itself."""
