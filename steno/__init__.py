"""steno: full-packet capture to disk, indexed while writing, queried in seconds.

A drop-in successor of Google's Stenographer: same configuration, certificates,
query API and ``stenoread`` habits, rebuilt on trio with a C core through cffi.
"""

__version__ = "0.1.0"
