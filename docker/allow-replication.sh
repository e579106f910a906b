#!/bin/sh
# The postgres image lets every host in for ordinary connections only; a standby's base backup
# and WAL stream are replication connections, which pg_hba.conf lists apart.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
