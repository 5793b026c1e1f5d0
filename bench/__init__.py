"""Side-by-side benchmark of flask_sms; run with ``python -m bench`` (see bench/README.md)."""
