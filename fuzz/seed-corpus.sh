#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/, git-ignored) from the codecs' transcript
# tests: the RFC examples in crates/imap-codec/tests/common/mod.rs and
# crates/pop3-codec/tests/transcripts/*.txt, plus a few client sessions written below.
#
# Each transcript ("S: " server lines, "C: " client lines) becomes, per target:
#   imap_response_decode, pop3_response_decode  selector octet + the server side
#   imap_command_decode, pop3_command_decode    (selector octet +) the client side
#   imap_framer_chunking                        chunk sizes + either side
#   imap_roundtrip                              each line alone
#   imap_client, pop3_client                    op letters + '\n' + the server side cut
#                                               into NUL-separated segments, one per
#                                               client turn (fuzz_targets/scripted/mod.rs)
# For the client targets the op letters are derived from the client's commands, IMAP tags
# in tagged answers become the 0x01 placeholder, and the answers the real client needs but
# the example skipped (CAPABILITY/CAPA after the greeting and after login) are added.
#
# Existing corpus files are kept; seeds are (re)written under fixed names `seed-*`.
# Usage: fuzz/seed-corpus.sh [CORPUS_DIR]   (default: fuzz/corpus next to this script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus=${1:-"$here/corpus"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- 1. Transcripts as plain files of "S: " / "C: " lines -------------------------------

mkdir -p "$work/imap" "$work/pop3"

# The IMAP transcripts are Rust raw strings: `greeting: BOOL, text: r#" ... "#,`. A
# transcript without a greeting gets one.
awk -v dir="$work/imap" '
    /^pub const [A-Z0-9_]+: Transcript/ {
        name = tolower($3); sub(/:$/, "", name); next
    }
    /greeting: false/ { greeting = 0; next }
    /greeting: true/ { greeting = 1; next }
    /text: r#"/ {
        file = dir "/" name ".txt"; inside = 1
        if (!greeting)
            print "S: * OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS ENABLE ID SASL-IR AUTH=PLAIN AUTH=XOAUTH2] ready" > file
        next
    }
    inside && /^"#,/ { inside = 0; close(file); next }
    inside && /^[SC]:/ { print > file }
' "$root/crates/imap-codec/tests/common/mod.rs"

for t in "$root"/crates/pop3-codec/tests/transcripts/*.txt; do
    grep -E '^[SC]:' "$t" > "$work/pop3/$(basename "$t")" || true
done

# Client sessions the RFC examples do not show (the clients' usual paths).
cat > "$work/imap/client_session.txt" <<'EOF'
S: * OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS ENABLE ID LITERAL+ AUTH=PLAIN] ready
C: A1 LOGIN fuzz@example.com secret
S: A1 OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS ENABLE ID CONDSTORE] logged in
C: A2 SELECT INBOX
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UIDVALIDITY 1700000000] UIDs valid
S: * OK [UIDNEXT 10] Predicted next UID
S: A2 OK [READ-WRITE] SELECT completed
C: A3 UID SEARCH ALL
S: * SEARCH 4 5 9
S: A3 OK done
C: A4 UID FETCH 4,5,9 (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])
S: * 1 FETCH (UID 4 RFC822.SIZE 5 INTERNALDATE "17-Jul-1996 02:44:25 -0700" FLAGS (\Seen) BODY[] {5}
S: hello)
S: * 2 FETCH (UID 5 RFC822.SIZE 0 FLAGS () BODY[] "")
S: * 3 FETCH (FLAGS (\Seen) UID 9 BODY[] NIL)
S: A4 OK done
C: A5 UID STORE 4,5,9 +FLAGS.SILENT (\Seen)
S: * 1 FETCH (FLAGS (\Seen \Recent))
S: A5 OK done
C: A6 UID MOVE 4,5,9 Archive
S: * OK [COPYUID 38505 4:5,9 100:102] moved
S: * 1 EXPUNGE
S: * VANISHED 5,9
S: A6 OK done
C: A7 IDLE
S: + idling
S: * 4 EXISTS
C: DONE
S: * 3 EXPUNGE
S: A7 OK IDLE terminated
C: A8 LOGOUT
S: * BYE bye
S: A8 OK done
EOF

cat > "$work/imap/client_sasl.txt" <<'EOF'
S: * OK ready
C: A1 CAPABILITY
S: * CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN AUTH=XOAUTH2 AUTH=OAUTHBEARER IDLE
S: A1 OK done
C: A2 AUTHENTICATE PLAIN
S: +
C: AGZ1enpAZXhhbXBsZS5jb20AcGFzcw==
S: A2 NO [AUTHENTICATIONFAILED] wrong
C: A3 AUTHENTICATE XOAUTH2
S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=
C:
S: A3 NO [AUTHENTICATIONFAILED] Invalid credentials
C: A4 AUTHENTICATE LOGIN
S: + VXNlcm5hbWU6
C: dXNlcg==
S: + UGFzc3dvcmQ6
C: cGFzcw==
S: A4 OK [CAPABILITY IMAP4rev1 IDLE MOVE] authenticated
C: A5 EXAMINE Archive
S: * 0 EXISTS
S: * OK [UIDVALIDITY 7] v
S: A5 OK [READ-ONLY] done
C: A6 LIST "" "*"
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\Noselect \HasChildren) "/" {5}
S: a/b/c
S: A6 OK done
C: A7 NOOP
S: * 2 EXISTS
S: * 1 FETCH (UID 7 FLAGS (\Flagged))
S: A7 OK done
EOF

cat > "$work/pop3/client_session.txt" <<'EOF'
S: +OK POP3 ready <1896.697170952@dbc.mtview.ca.us>
C: CAPA
S: +OK Capability list follows
S: USER
S: TOP
S: UIDL
S: PIPELINING
S: RESP-CODES
S: SASL PLAIN LOGIN XOAUTH2 OAUTHBEARER
S: .
C: USER fuzz@example.com
S: +OK
C: PASS secret
S: +OK maildrop has 3 messages
C: STAT
S: +OK 3 320
C: UIDL
S: +OK
S: 1 whqtswO00WBw418f9t5JxYwZ
S: 2 QhdPYR:00WBw1Ph7x7
S: 3 z
S: .
C: LIST
S: +OK 3 messages
S: 1 120
S: 2 200
S: 3 0
S: .
C: RETR 1
S: +OK 120 octets
S: Subject: hi
S:
S: ..a line that starts with a dot
S: .
C: RETR 2
S: -ERR [SYS/TEMP] no such message
C: RETR 3
S: +OK
S: .
C: TOP 1 10
S: +OK
S: Subject: hi
S: .
C: DELE 1
S: +OK deleted
C: QUIT
S: +OK bye
EOF

cat > "$work/pop3/client_sasl.txt" <<'EOF'
S: +OK ready
C: CAPA
S: -ERR no CAPA here
C: AUTH PLAIN
S: +
C: AGZ1enpAZXhhbXBsZS5jb20AcGFzcw==
S: -ERR [AUTH] wrong
C: AUTH XOAUTH2 dXNlcj1mdXp6AWF1dGg9QmVhcmVyIHRva2VuAQE=
S: + eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=
C:
S: -ERR [AUTH] Authentication failed
C: APOP fuzz@example.com c4c9334bac560ecc979e58001b3e22fb
S: +OK logged in
C: STAT
S: +OK 2 320
C: LIST 1
S: +OK 1 120
C: UIDL 2
S: +OK 2 QhdPYR:00WBw1Ph7x7
C: RSET
S: +OK
C: NOOP
S: +OK
EOF

# --- 2. The codec targets -----------------------------------------------------------------

# side FILE S|C: one side of a transcript, lines ended with CRLF.
side() {
    awk -v want="$2" '
        substr($0, 1, 1) == want { line = substr($0, 3); sub(/^ /, "", line); printf "%s\r\n", line }
    ' "$1"
}

seed() { # seed TARGET NAME: writes stdin to the corpus file
    mkdir -p "$corpus/$1"
    cat > "$corpus/$1/seed-$2"
}

for f in "$work"/imap/*.txt; do
    n=$(basename "$f" .txt)
    { printf '@'; side "$f" S; } | seed imap_response_decode "$n"
    { printf '!'; side "$f" C; } | seed imap_command_decode "$n"
    { printf '\003\005\007\013'; side "$f" S; } | seed imap_framer_chunking "$n-server"
    { printf '\003\005\007\013'; side "$f" C; } | seed imap_framer_chunking "$n-client"
    i=0
    while IFS= read -r line; do
        i=$((i + 1))
        line=${line:2}
        printf '%s\r\n' "${line# }" | seed imap_roundtrip "$n-$i"
    done < "$f"
done

for f in "$work"/pop3/*.txt; do
    n=$(basename "$f" .txt)
    { printf '\000'; side "$f" S; } | seed pop3_response_decode "$n"
    side "$f" C | seed pop3_command_decode "$n"
done

# --- 3. The client targets ------------------------------------------------------------------

# client_script PROTO FILE: op letters, '\n', then the server side in segments. awk writes
# 0x1e for the NUL separator and 0x1f for the tag placeholder; tr turns them into 0x00 and
# 0x01 (awk implementations differ in how they print NUL).
client_script() {
    awk -v proto="$1" '
        function flush_segment() {
            if (!started) { started = 1 } else { script = script "\036" }
            script = script segment
            segment = ""
        }
        function add_segment(text) { flush_segment(); segment = text }
        function word(s, n,    a) { split(s, a, " "); return toupper(a[n]) }
        function imap_op(line,    cmd, arg) {
            cmd = word(line, 2); arg = word(line, 3)
            if (cmd == "UID") { cmd = arg; arg = word(line, 4) }
            if (cmd == "LOGIN") return "W"
            if (cmd == "AUTHENTICATE") return arg == "PLAIN" ? "P" : arg == "XOAUTH2" ? "X" : arg == "OAUTHBEARER" ? "B" : arg == "LOGIN" ? "G" : "-"
            if (cmd == "SELECT") return "S"
            if (cmd == "EXAMINE") return "E"
            if (cmd == "FETCH") return "F"
            if (cmd == "STORE") return "T"
            if (cmd == "IDLE") return "I"
            if (cmd == "MOVE") return "V"
            if (cmd == "EXPUNGE") return word(line, 2) == "UID" ? "D" : "d"
            if (cmd == "NOOP") return "N"
            if (cmd == "LIST") return "A"
            if (cmd == "CREATE") return "C"
            if (cmd == "CAPABILITY") return commands == 1 ? "" : "K"
            if (cmd == "ENABLE") return "Y"
            if (cmd == "ID") return "y"
            if (cmd == "SEARCH") return "H"
            if (cmd == "LOGOUT") return "Q"
            return "-"
        }
        function imap_is_command(line) {
            return word(line, 2) ~ /^(LOGIN|AUTHENTICATE|SELECT|EXAMINE|FETCH|STORE|IDLE|MOVE|EXPUNGE|NOOP|LIST|LSUB|CREATE|DELETE|RENAME|CAPABILITY|ENABLE|ID|SEARCH|LOGOUT|UID|APPEND|COPY|STATUS|STARTTLS|CLOSE|UNSELECT|CHECK|NAMESPACE)$/
        }
        function pop3_op(line,    cmd, n) {
            cmd = word(line, 1); n = split(line, parts, " ")
            if (cmd == "USER") return "U"
            if (cmd == "PASS") return "="   # second half of U
            if (cmd == "APOP") return "A"
            if (cmd == "AUTH") return n < 2 ? "-" : word(line, 2) == "PLAIN" ? "P" : word(line, 2) == "XOAUTH2" ? "X" : word(line, 2) == "OAUTHBEARER" ? "B" : word(line, 2) == "LOGIN" ? "G" : "-"
            if (cmd == "STAT") return "S"
            if (cmd == "LIST") return n > 1 ? "n" : "l"
            if (cmd == "UIDL") return n > 1 ? "v" : "u"
            if (cmd == "TOP") return "T"
            if (cmd == "RETR") return "R"
            if (cmd == "DELE") return "D"
            if (cmd == "RSET") return "Z"
            if (cmd == "NOOP") return "N"
            if (cmd == "CAPA") return commands == 1 ? "" : "K"
            if (cmd == "QUIT") return "Q"
            return "-"
        }
        function pop3_is_command(line,    cmd) {
            cmd = word(line, 1)
            return cmd ~ /^(USER|PASS|APOP|AUTH|STAT|LIST|UIDL|TOP|RETR|DELE|RSET|NOOP|CAPA|QUIT|STLS|UTF8)$/
        }
        BEGIN {
            keep = 1; client_spoke = 0; commands = 0
            imap_caps = "* CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS ENABLE ID\r\n\037 OK done\r\n"
            pop3_caps = "+OK\r\nUSER\r\nTOP\r\nUIDL\r\nPIPELINING\r\nSASL PLAIN LOGIN XOAUTH2\r\n.\r\n"
        }
        /^C:/ {
            line = substr($0, 3); sub(/^ /, "", line)
            is_cmd = proto == "imap" ? imap_is_command(line) : pop3_is_command(line)
            if (is_cmd) {
                commands++
                op = proto == "imap" ? imap_op(line) : pop3_op(line)
                if (commands == 1 && op != "") {
                    # The client asks for capabilities first unless the greeting had them.
                    if (proto == "pop3") add_segment(pop3_caps)
                    else if (greeting !~ /\[CAPABILITY/) add_segment(imap_caps)
                }
                if (op == "=") op = ""
                keep = op != "-"
                if (keep) ops = ops op
                last = proto == "imap" ? word(line, 2) : word(line, 1)
            }
            client_spoke = 1
            next
        }
        /^S:/ {
            if (!keep) next
            line = substr($0, 3); sub(/^ /, "", line)
            if (commands == 0 && greeting == "") greeting = line
            if (proto == "imap" && line !~ /^[*+]/ && word(line, 2) ~ /^(OK|NO|BAD)$/)
                sub(/^[^ ]+/, "\037", line)
            if (client_spoke) {
                # After a login the client asks for capabilities again, unless the
                # answer carried them.
                if (login_ok) { add_segment(proto == "imap" ? imap_caps : pop3_caps); login_ok = 0 }
                flush_segment(); client_spoke = 0
            }
            segment = segment line "\r\n"
            if (proto == "imap" && last ~ /^(LOGIN|AUTHENTICATE)$/ && line ~ /^\037 OK/ && line !~ /\[CAPABILITY/) login_ok = 1
            if (proto == "pop3" && last ~ /^(PASS|APOP|AUTH)$/ && line ~ /^\+OK/) login_ok = 1
        }
        END {
            flush_segment()
            printf "%s\n%s", ops, script
        }
    ' "$2" | tr '\036\037' '\000\001'
}

for f in "$work"/imap/*.txt; do
    client_script imap "$f" | seed imap_client "$(basename "$f" .txt)"
done
for f in "$work"/pop3/*.txt; do
    client_script pop3 "$f" | seed pop3_client "$(basename "$f" .txt)"
done

echo "seeded $(find "$corpus" -name 'seed-*' | wc -l) files under $corpus"
