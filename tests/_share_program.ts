// The scripted program the share tests run in a pseudo-terminal: colours, cursor motion,
// then (after a line of input) a full-screen frame in the alternate buffer that is redrawn
// on every resize and shows the last line typed; `quit` leaves it and exits with status 5.
export const SHARE_PROGRAM: string[] = [
  "bash",
  "-c",
  String.raw`
stty -echo
printf '\e[1;31mred bold\e[0m \e[42mgreen bg\e[0m\r\n'
printf 'cursor\e[3;20Hmoved\r\n'
read -r go
printf '\e[?1049h'
last=none
draw() { set -- $(stty size); printf '\e[2J\e[HTOP %sx%s\e[%s;1HBOTTOM\e[2;3H\e[7mframe\e[0m %s' "$2" "$1" "$1" "$last"; }
draw
trap draw WINCH
while :; do
  if read -r -t 0.1 line; then
    [ "$line" = quit ] && break
    last="got:$line"
    draw
  fi
done
printf '\e[?1049l'
echo bye
exit 5
`,
];
