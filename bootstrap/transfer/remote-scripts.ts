// The three remote commands of a sync (state, hash, ops) as argv arrays, their stdin and their output parsers (pure).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash scripts, ${…} is bash syntax
// Paths travel on stdin, one per line, never spliced into the script: the scripts are constants.

/** Picks the fastest sha256 on the host: OpenSSL uses SHA-NI (≈1.1 GB/s here), coreutils sha256sum often does not (≈330 MB/s). */
const PICK_HASHER = `if command -v openssl >/dev/null 2>&1; then H=(openssl dgst -sha256 -r); else H=(sha256sum); fi`;

export const LISTING_MARK = "--odapi-listing--";
export const DF_MARK = "--odapi-df--";

/** One round trip: the manifest, then size/mtime/links/mode of every file, then free space. */
export const STATE_SCRIPT = [
  "set -eu",
  // Builtins where possible: every extra process costs milliseconds, and this runs on every deploy.
  '[ -d "$1/.odapi" ] || mkdir -p -- "$1/.odapi"',
  'cd -- "$1"',
  "[ ! -f .odapi/manifest.json ] || printf '%s' \"$(< .odapi/manifest.json)\"",
  `printf '\\n%s\\n' '${LISTING_MARK}'`,
  "find . -path ./.odapi -prune -o -type f -printf '%s %T@ %n %m %P\\n'",
  `printf '%s\\n' '${DF_MARK}'`,
  "df -Pk .",
].join("\n");

/**
 * Hashes what stdin asks for: `F<TAB>path` → whole-file sha256 (in parallel, one process per core) plus its
 * size/mtime/links; `B<TAB>blockSize<TAB>path` → sha256 of each block (to resume a partial file).
 */
export const HASH_SCRIPT = [
  "set -u",
  'cd -- "$1" || exit 1',
  PICK_HASHER,
  "full=()",
  "blocks=()",
  "while IFS=$'\\t' read -r kind a b; do",
  '  case "$kind" in',
  '    F) full+=("$a") ;;',
  '    B) blocks+=("$a" "$b") ;;',
  "  esac",
  "done",
  'if [ "${#full[@]}" -gt 0 ]; then',
  '  printf \'%s\\0\' "${full[@]}" | xargs -0 -r -P "$(nproc 2>/dev/null || echo 2)" -n 4 "${H[@]}" 2>/dev/null',
  "  find \"${full[@]}\" -maxdepth 0 -type f -printf 'S %s %T@ %n %p\\n' 2>/dev/null",
  "fi",
  "i=0",
  'while [ "$i" -lt "${#blocks[@]}" ]; do',
  "  bs=${blocks[$i]}; p=${blocks[$((i+1))]}; i=$((i+2))",
  '  [ -f "$p" ] || continue',
  '  split -b "$bs" --filter="${H[*]}" -- "$p" 2>/dev/null | { n=0; while read -r h _; do printf \'B %s %s %s\\n\' "$n" "$h" "$p"; n=$((n+1)); done; }',
  "done",
  "exit 0",
].join("\n");

/** The file operations, one `case` per op, shared by the prepare and commit scripts. Fields: $op $a $b $c. */
const OP_CASES = [
  '  case "$op" in',
  '    rm) rm -f -- "$a" ;;',
  '    rmrf) rm -rf -- "$a" ;;',
  '    mkdir) mkdir -p -- "$a" ;;',
  '    ln) mkdir -p -- "$(dirname -- "$b")"; ln -f -- "$a" "$b" ;;',
  '    trunc) truncate -s "$a" -- "$b" ;;',
  '    chmod) chmod "$a" -- "$b" ;;',
  '    mv) mkdir -p -- "$(dirname -- "$b")"; mv -f -T -- "$a" "$b" ;;',
  // The live version is absent only between these two renames (microseconds); it is never partial.
  '    swap) rm -rf -- "$c"; if [ -e "$b" ]; then mv -T -- "$b" "$c"; fi; mv -T -- "$a" "$b"; rm -rf -- "$c" ;;',
  '    *) echo "odapi-error: unknown transfer op $op | fix: use the same odapi version end to end" >&2; exit 2 ;;',
  "  esac",
];

/** Applies the file operations read from stdin (one per line, tab-separated); stops at the first failure. */
export const OPS_SCRIPT = [
  "set -eu",
  'cd -- "$1"',
  "while IFS=$'\\t' read -r op a b c; do",
  ...OP_CASES,
  "done",
].join("\n");

export const OPS_MARK = "--odapi-ops--";
export const KEPT_MARK = "--odapi-kept--";
export const END_MARK = "--odapi-end--";
/** Exit code of the commit when its input ended early (cancelled or connection lost): nothing was changed. */
export const COMMIT_INCOMPLETE = 4;
export const COMMIT_MISMATCH = 3;

/**
 * The commit, in one round trip. It may be started before the upload ends (its shell start then costs
 * nothing) and waits for its stdin: `sha256<TAB>staged<TAB>final` lines, OPS_MARK, op lines, KEPT_MARK, kept
 * manifest members (JSON, one per line), END_MARK. Input without END_MARK changes nothing (exit 4).
 * Then it hashes every staged file (one process per core) and compares with the local sha256; on any
 * mismatch it prints `MISMATCH <path>` and exits 3 before anything is renamed. Otherwise it applies the ops
 * (modes, renames into place) and writes the manifest (kept members + the placed files with their remote
 * size and mtime, which a rename keeps) to a temp name, then renames it.
 */
export const COMMIT_SCRIPT = [
  "set -eu",
  'cd -- "$1"',
  PICK_HASHER,
  "P=$(nproc 2>/dev/null || echo 2)",
  "work=$(mktemp -d .odapi/verify.XXXXXX)",
  "trap 'rm -rf -- \"$work\"' EXIT",
  "sums=(); staged=(); finals=(); ops=(); kept=(); section=verify; complete=0",
  "while IFS= read -r line; do",
  '  case "$section:$line" in',
  `    *:'${OPS_MARK}') section=ops ;;`,
  `    *:'${KEPT_MARK}') section=kept ;;`,
  `    *:'${END_MARK}') complete=1; break ;;`,
  "    verify:*)",
  "      IFS=$'\\t' read -r a b c <<< \"$line\"",
  '      n=${#staged[@]}; sums+=("$a"); staged+=("$b"); finals+=("$c")',
  // Hash each file as soon as it is announced, while the rest is still uploading; at most one job per core.
  '      while [ "$(jobs -rp | wc -l)" -ge "$P" ]; do wait -n || true; done',
  '      { h=$("${H[@]}" < "$b" 2>/dev/null | cut -d" " -f1) || h=; st=$(find "$b" -maxdepth 0 -type f -printf \'%s %T@\' 2>/dev/null) || st=; echo "$h $st" > "$work/$n"; } &',
  "      ;;",
  '    ops:*) ops+=("$line") ;;',
  '    kept:*) kept+=("$line") ;;',
  "  esac",
  "done",
  `[ "$complete" = 1 ] || exit ${COMMIT_INCOMPLETE}`,
  "wait",
  "size=(); mtime=(); bad=0",
  'for i in "${!staged[@]}"; do',
  '  h=; s=; m=; read -r h s m < "$work/$i" || true',
  "  size[i]=${s:-0}; mtime[i]=${m:-0}",
  '  if [ "${h:-}" != "${sums[$i]}" ]; then echo "MISMATCH ${staged[$i]}"; bad=1; fi',
  "done",
  `[ "$bad" = 0 ] || exit ${COMMIT_MISMATCH}`,
  'for line in ${ops[@]+"${ops[@]}"}; do',
  "  IFS=$'\\t' read -r op a b c <<< \"$line\"",
  ...OP_CASES,
  "done",
  "{",
  '  printf \'{"format":1,"files":{\'',
  "  sep=",
  '  for member in ${kept[@]+"${kept[@]}"}; do printf \'%s\\n%s\' "$sep" "$member"; sep=,; done',
  '  for i in "${!staged[@]}"; do',
  '    printf \'%s\\n"%s":{"sha256":"%s","size":%s,"mtime":"%s"}\' "$sep" "${finals[$i]}" "${sums[$i]}" "${size[$i]}" "${mtime[$i]}"',
  "    sep=,",
  "  done",
  "  printf '\\n}}\\n'",
  "} > .odapi/manifest.json.tmp",
  "mv -f -- .odapi/manifest.json.tmp .odapi/manifest.json",
  "echo COMMITTED",
].join("\n");

export function stateCommand(remoteDir: string): string[] {
  return ["bash", "-c", STATE_SCRIPT, "odapi-state", remoteDir];
}

export function hashCommand(remoteDir: string): string[] {
  return ["bash", "-c", HASH_SCRIPT, "odapi-hash", remoteDir];
}

export function opsCommand(remoteDir: string): string[] {
  return ["bash", "-c", OPS_SCRIPT, "odapi-ops", remoteDir];
}

export function commitCommand(remoteDir: string): string[] {
  return ["bash", "-c", COMMIT_SCRIPT, "odapi-commit", remoteDir];
}

export function diskFreeCommand(remoteDir: string): string[] {
  return ["df", "-Pk", remoteDir];
}

export type HashRequest =
  | { kind: "full"; path: string }
  | { kind: "blocks"; path: string; blockSize: number };

export function hashRequestText(reqs: HashRequest[]): string {
  return reqs.map((r) => (r.kind === "full" ? `F\t${r.path}\n` : `B\t${r.blockSize}\t${r.path}\n`)).join("");
}

export type Op =
  | { op: "rm" | "rmrf" | "mkdir"; path: string }
  | { op: "ln" | "mv"; from: string; to: string }
  | { op: "trunc"; size: number; path: string }
  | { op: "chmod"; mode: number; path: string }
  | { op: "swap"; staging: string; live: string; retired: string };

export function opLine(o: Op): string {
  switch (o.op) {
    case "rm":
    case "rmrf":
    case "mkdir":
      return `${o.op}\t${o.path}`;
    case "ln":
    case "mv":
      return `${o.op}\t${o.from}\t${o.to}`;
    case "trunc":
      return `trunc\t${o.size}\t${o.path}`;
    case "chmod":
      return `chmod\t${o.mode.toString(8).padStart(4, "0")}\t${o.path}`;
    case "swap":
      return `swap\t${o.staging}\t${o.live}\t${o.retired}`;
  }
}

/** The stdin of OPS_SCRIPT. */
export function opsText(ops: Op[]): string {
  return ops.map((o) => `${opLine(o)}\n`).join("");
}

export interface CommitInput {
  verify: { sha256: string; staged: string; final: string }[];
  ops: Op[];
  /** Manifest entries that stay as they are. */
  kept: Record<string, { sha256: string; size: number; mtime: string }>;
}

/** One verify line of COMMIT_SCRIPT's stdin: sent as soon as the file is complete, so hashing overlaps the upload. */
export function commitVerifyLine(v: CommitInput["verify"][number]): string {
  return `${v.sha256}\t${v.staged}\t${v.final}\n`;
}

/** The rest of COMMIT_SCRIPT's stdin after the verify lines: ops, kept manifest members, the end mark. */
export function commitTail(input: Omit<CommitInput, "verify">): string {
  const kept = Object.keys(input.kept)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(input.kept[k])}\n`)
    .join("");
  return `${OPS_MARK}\n${opsText(input.ops)}${KEPT_MARK}\n${kept}${END_MARK}\n`;
}

/** The whole stdin of COMMIT_SCRIPT. */
export function commitText(input: CommitInput): string {
  return input.verify.map(commitVerifyLine).join("") + commitTail(input);
}

/** Staged paths the commit found different from the local sha256 (the commit then changed nothing). */
export function parseCommitOutput(stdout: string): { committed: boolean; mismatches: string[] } {
  const lines = stdout.split("\n");
  return {
    committed: lines.includes("COMMITTED"),
    mismatches: lines.filter((l) => l.startsWith("MISMATCH ")).map((l) => l.slice("MISMATCH ".length)),
  };
}

export interface RemoteFileStat {
  size: number;
  /** As printed by find %T@, compared as text. */
  mtime: string;
  /** Hard link count: a file linked from a live version must never be written through. */
  nlink: number;
  mode: number;
}

export interface RemoteState {
  manifestText: string;
  files: Map<string, RemoteFileStat>;
  /** Free bytes on the remote dir's filesystem, when df answered. */
  freeBytes?: number;
}

const LISTING_LINE = /^(\d+) (\d+(?:\.\d+)?) (\d+) ([0-7]+) (.+)$/;

export function parseState(stdout: string): RemoteState {
  const mark = stdout.lastIndexOf(`\n${LISTING_MARK}\n`);
  const manifestText = mark < 0 ? "" : stdout.slice(0, mark);
  const rest = mark < 0 ? stdout : stdout.slice(mark + LISTING_MARK.length + 2);
  const dfAt = rest.lastIndexOf(`${DF_MARK}\n`);
  const listing = dfAt < 0 ? rest : rest.slice(0, dfAt);
  const files = new Map<string, RemoteFileStat>();
  for (const line of listing.split("\n")) {
    const m = LISTING_LINE.exec(line);
    if (m) {
      files.set(m[5] as string, {
        size: Number(m[1]),
        mtime: m[2] as string,
        nlink: Number(m[3]),
        mode: Number.parseInt(m[4] as string, 8),
      });
    }
  }
  let freeBytes: number | undefined;
  if (dfAt >= 0) freeBytes = parseDiskFree(rest.slice(dfAt + DF_MARK.length + 1));
  return { manifestText, files, freeBytes };
}

export interface HashResults {
  full: Map<string, string>;
  stats: Map<string, { size: number; mtime: string; nlink: number }>;
  /** Per path, the sha256 of block i at index i (blocks past the remote file's end are absent). */
  blocks: Map<string, string[]>;
}

const HASH_LINE = /^([0-9a-f]{64}) [ *](.+)$/;
const STAT_LINE = /^S (\d+) (\d+(?:\.\d+)?) (\d+) (.+)$/;
const BLOCK_LINE = /^B (\d+) ([0-9a-f]{64}) (.+)$/;

export function parseHashOutput(stdout: string): HashResults {
  const out: HashResults = { full: new Map(), stats: new Map(), blocks: new Map() };
  for (const line of stdout.split("\n")) {
    let m = HASH_LINE.exec(line);
    if (m) {
      out.full.set(m[2] as string, m[1] as string);
      continue;
    }
    m = STAT_LINE.exec(line);
    if (m) {
      out.stats.set(m[4] as string, { size: Number(m[1]), mtime: m[2] as string, nlink: Number(m[3]) });
      continue;
    }
    m = BLOCK_LINE.exec(line);
    if (m) {
      const list = out.blocks.get(m[3] as string) ?? [];
      list[Number(m[1])] = m[2] as string;
      out.blocks.set(m[3] as string, list);
    }
  }
  return out;
}

/** Free bytes from `df -Pk` output (its last line's "Available" column, in KiB), if parseable. */
export function parseDiskFree(stdout: string): number | undefined {
  const last = stdout.trim().split("\n").pop() ?? "";
  const avail = last.trim().split(/\s+/)[3];
  return avail && /^\d+$/.test(avail) ? Number(avail) * 1024 : undefined;
}
