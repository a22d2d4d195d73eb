"""gunicorn's settings that belong to the code rather than to one deployment; gunicorn reads this
file from its working directory (command-line flags and GUNICORN_CMD_ARGS still win)."""

# Its own and its access lines in the format of every other process (ordersite/logs.py).
logger_class = "ordersite.access_log.GunicornLogger"
