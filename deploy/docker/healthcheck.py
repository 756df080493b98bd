"""`python3 healthcheck.py URL`: exit 0 when URL answers 2xx within 4 s.
The images' HEALTHCHECK: no curl in a slim Python image, and one check for all."""
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=4) as response:
        sys.exit(0 if 200 <= response.status < 300 else 1)
except Exception as error:  # any failure is "unhealthy"; say which
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
