"""The bench capture agent (issue 12 §1): instruments → durable spool → the LIMS.

Import-light on purpose: it runs on a bench PC with the ``drivers`` package, the standard
library and the message catalog only, never Flask, SQLAlchemy or the server's code
(tests/unit/test_boundaries.py holds it to that).
"""
