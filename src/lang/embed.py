#!/usr/bin/env python3
"""Write a C file defining `const char NAME[]` with the bytes of a text file."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, 'rb').read()
with open(out, 'w') as f:
    f.write('/* Generated from %s by embed.py: do not edit. */\n' % src.split('/')[-1])
    f.write('const char %s[] =\n' % name)
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        f.write('    "' + ''.join('\\x%02x' % b for b in chunk) + '"\n')
    f.write('    ;\n')
