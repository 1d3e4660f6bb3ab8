// The scripted program the share tests run in a pseudo-terminal: colours, cursor motion,
// then (after a line of input) a full-screen frame in the alternate buffer that is redrawn
// on every resize and shows the last line typed; `quit` leaves it and exits with status 5.
import { werift } from "../adapters/werift.ts";
import { Share } from "../cli/share.ts";

export const SHARE_PROGRAM: string[] = [
  "bash",
  "-c",
  String.raw`
stty -echo
printf '\e[1;31mred bold\e[0m \e[42mgreen bg\e[0m\r\n'
printf 'cursor\e[3;20Hmoved\r\n'
read -r go || exit 1
printf '\e[?1049h'
last=none
draw() { local IFS=" "; drawn=$(stty size); set -- $drawn; printf '\e[2J\e[HTOP %sx%s\e[%s;1HBOTTOM\e[2;3H\e[7mframe\e[0m %s' "$2" "$1" "$1" "$last"; }
draw
trap draw WINCH
buf=
eofs=0
while :; do
  # A read that times out (or is interrupted by SIGWINCH) keeps what it got of the line.
  IFS= read -r -t 0.5 part
  rc=$?
  buf="$buf$part"
  if [ $rc -eq 0 ]; then
    [ "$buf" = quit ] && break
    last="got:$buf"
    buf=
    draw
  elif [ $rc -lt 128 ]; then
    # End of input, or a read cut short by SIGWINCH: only a run of them is a hang-up.
    eofs=$((eofs + 1))
    [ $eofs -gt 50 ] && exit 1
    continue
  fi
  eofs=0
  # stty resizes in two steps (columns, then rows): a trap may have drawn the first.
  [ "$(stty size)" != "$drawn" ] && draw
done
printf '\e[?1049l'
echo bye
exit 5
`,
];

/** Shares `command` (default: {@linkcode SHARE_PROGRAM}) from this process, werift on loopback. */
export function shareOnLoopback(
  server: string,
  options: { cols: number; rows: number; allowInput?: boolean; command?: string[] },
): Promise<Share> {
  return Share.start({
    rtc: werift({ interfaceAddresses: { udp4: "127.0.0.1" } }),
    server,
    command: options.command ?? SHARE_PROGRAM,
    cols: options.cols,
    rows: options.rows,
    allowInput: options.allowInput,
  });
}
