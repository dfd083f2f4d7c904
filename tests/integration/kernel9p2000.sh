#!/bin/bash
# kernel9p2000.sh — kernel9p.sh with plain 9P2000 (the original's dialect).
DUCT_V9FS_VERSION=9p2000 exec bash "$(dirname "$0")/kernel9p.sh"
