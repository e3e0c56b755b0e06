# The command under `init -s`: reports its pid, and on SIGTERM says so and exits 3.
trap 'echo "init-child: TERM in $$"; exit 3' TERM
echo "init-child: running as $$"
while :; do
    sleep 1 &
    wait $!
done
