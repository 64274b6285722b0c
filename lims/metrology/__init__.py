"""Pure metrology: the measurement-model parser, the uncertainty engine and the decision rules.

Nothing here imports Flask or a database session; calibration, samples and reports call in.
"""
