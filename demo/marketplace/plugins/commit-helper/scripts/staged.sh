#!/bin/sh
# Prints the staged diff for the commit-helper skill.
exec git diff --cached --stat
