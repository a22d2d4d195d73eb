"""Flower's config file (`celery -A ordersite flower --conf=ordersite/flowerconfig.py`).

Flower executes this file and takes every global named like one of its options; the options
themselves come from ordersite.flower_options. Flags on the command line still win over it.
"""

from ordersite.flower_options import flower_options

globals().update(flower_options())
