#!/bin/sh
# Starts today's notes file in the project, once.
notes="notes/$(date +%F).md"
mkdir -p notes
[ -f "$notes" ] || printf '# Notes for %s\n' "$(date +%F)" > "$notes"
