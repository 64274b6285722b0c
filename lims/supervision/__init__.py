"""Supervision spot checks (监督抽查): plans, random draws, sampling, backup samples, result
notices, objections and re-inspection, pass-rate statistics and the annual white paper."""
