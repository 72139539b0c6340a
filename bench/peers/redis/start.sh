#!/bin/sh
# Starts Debian's redis-server as a benchmark peer: bound to 127.0.0.1 on
# PORT, no persistence, in the foreground of a background process, with a
# pidfile. Prints the PID. Stop it with: kill "$(cat DIR/redis.pid)".
#
#   start.sh PORT [DIR]     (DIR holds the pidfile and log; default /tmp/herd-redis-PORT)
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 PORT [DIR]" >&2
	exit 2
fi
port=$1
dir=${2:-/tmp/herd-redis-$port}
mkdir -p "$dir"

redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
	--save "" --appendonly no --daemonize no \
	--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
	--io-threads 1 --tcp-backlog 4096 --maxclients 20000 \
	</dev/null >/dev/null 2>&1 &
pid=$!

# Wait until it answers (at most 5 s).
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 50 ]; then
		echo "redis-server did not start; see $dir/redis.log" >&2
		exit 1
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "$pid"
