# Shell pieces shared by the stack scripts.

# wait_with_timeout PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
# (bash reaps its background children as they exit, so kill -0 stops succeeding.)
wait_with_timeout() {
  local i
  for ((i = 0; i < $2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 1; done
  ! kill -0 "$1" 2>/dev/null
}
