#!/bin/sh
# Entrypoint of the local Debian database test image (test/support/db-images.ts).
# It behaves like the official images for what the tests use, so compose files written
# for postgres/redis/mariadb images work unchanged:
#   postgres  POSTGRES_USER (postgres), POSTGRES_PASSWORD_FILE, POSTGRES_DB; data in $PGDATA
#   redis     REDIS_PASSWORD_FILE (sets the default user's password); extra args go to redis-server
#   mariadb   MARIADB_ROOT_PASSWORD_FILE, MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD_FILE
# Passwords are read from files only: never from plain variables or the command line.
set -eu

mode="${1:-}"
[ $# -gt 0 ] && shift

as_user() { u="$1"; shift; exec setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }
read_secret() { [ -n "${1:-}" ] && [ -r "$1" ] && tr -d '\r\n' <"$1"; }

case "$mode" in
postgres)
  PGDATA="${PGDATA:-/var/lib/postgresql/data}"
  export PGDATA
  PGBIN=/usr/lib/postgresql/15/bin
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 0700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    pwfile=$(mktemp)
    read_secret "${POSTGRES_PASSWORD_FILE:-}" >"$pwfile" || true
    chown postgres "$pwfile"
    setpriv --reuid=postgres --regid=postgres --init-groups \
      "$PGBIN/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
      setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
      setpriv --reuid=postgres --regid=postgres --init-groups psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q -c "CREATE DATABASE \"$db\"" || true
      setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    fi
  fi
  as_user postgres "$PGBIN/postgres" -D "$PGDATA" "$@"
  ;;
redis)
  mkdir -p /data
  chown redis:redis /data
  conf=/run/redis.conf
  mkdir -p /run
  {
    echo "bind 0.0.0.0"
    echo "protected-mode no"
    echo "dir /data"
    pw=$(read_secret "${REDIS_PASSWORD_FILE:-}" || true)
    [ -n "$pw" ] && echo "requirepass $pw"
  } >"$conf"
  chown redis "$conf"
  chmod 0600 "$conf"
  as_user redis redis-server "$conf" "$@"
  ;;
mariadb)
  datadir=/var/lib/mysql
  mkdir -p "$datadir" /run/mysqld
  chown -R mysql:mysql "$datadir" /run/mysqld
  if [ ! -d "$datadir/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal >/dev/null
    setpriv --reuid=mysql --regid=mysql --init-groups mariadbd --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    i=0
    until mariadb --socket=/run/mysqld/init.sock -uroot -e 'SELECT 1' >/dev/null 2>&1; do
      i=$((i + 1)); [ "$i" -gt 60 ] && { echo "mariadb did not start" >&2; exit 1; }; sleep 0.5
    done
    sql=$(mktemp)
    rootpw=$(read_secret "${MARIADB_ROOT_PASSWORD_FILE:-}" || true)
    {
      # Quotes in a password would end the SQL string: the tests' passwords are [A-Za-z0-9].
      [ -n "$rootpw" ] && echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$rootpw'; CREATE USER 'root'@'%' IDENTIFIED BY '$rootpw'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      [ -n "${MARIADB_DATABASE:-}" ] && echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
      if [ -n "${MARIADB_USER:-}" ]; then
        upw=$(read_secret "${MARIADB_PASSWORD_FILE:-}" || true)
        echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$upw';"
        [ -n "${MARIADB_DATABASE:-}" ] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
      fi
      echo "FLUSH PRIVILEGES;"
    } >"$sql"
    mariadb --socket=/run/mysqld/init.sock -uroot <"$sql"
    rm -f "$sql"
    kill "$pid"; wait "$pid" || true
  fi
  as_user mysql mariadbd --datadir="$datadir" --bind-address=0.0.0.0 "$@"
  ;;
*)
  if [ -n "$mode" ]; then exec "$mode" "$@"; fi
  exec sh
  ;;
esac
