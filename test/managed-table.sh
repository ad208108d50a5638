#!/bin/sh
# The guide's table "Configuration file handling", all 16 rows, through
# managed (p2p) migrations: config-table.sh with MANAGED=1.
MANAGED=1
. "$(dirname "$0")/config-table.sh"
