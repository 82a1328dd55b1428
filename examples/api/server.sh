#!/bin/sh
# Serves the build info on port 4000.
exec httpd -f -p "${PORT:-4000}" -h /srv
