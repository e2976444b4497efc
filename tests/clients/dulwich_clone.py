"""Clones a marketplace with dulwich (an independent git implementation).

Usage: dulwich_clone.py URL DIR PROTOCOL(0|2) DEPTH(0 = full)
The token rides in the URL as the HTTP Basic password.
"""
import sys

from dulwich import porcelain

url, target, protocol, depth = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
porcelain.clone(url, target, depth=depth or None, protocol_version=protocol, errstream=sys.stderr.buffer)
