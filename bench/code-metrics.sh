#!/usr/bin/env bash
# The code figures issue 18 is measured by (run from the repo root): where the photo-to-embedding and
# closest-pair work is written, public types per package, long lines, the longest CLI method, and which
# assemblies see the core's internals; and the size of the README and of the pages under docs/ (issue 28).
set -euo pipefail
cd "$(dirname "$0")/.."
cs() { find "$@" -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*'; }
echo "main-face picks outside the facade: $(cs src bench | xargs grep -n 'MainFace\.\|PhotoSubject\.Of' | grep -v '///' | grep -vc '^src/FaceNet/FaceRecognizer.cs' || true)"
for p in src/*/; do
  n=$(cs "$p" | xargs grep -hE '^(public|\[.*\] *public) +((sealed|static|abstract|readonly|partial|record) +)*(class|record|enum|interface|struct) ' | wc -l || true)
  echo "public types $(basename "$p"): $n"
done
echo "lines over 160 characters in src: $(cs src | xargs awk 'length > 160' | wc -l) (CLI: $(cs src/FaceNet.Cli | xargs awk 'length > 160' | wc -l))"
echo "lines over 140 characters in src: $(cs src | xargs awk 'length > 140' | wc -l)"
cs src/FaceNet.Cli | xargs awk '
  FNR == 1 { start = 0 }
  /^    (private|public|internal|protected)[^=;]*\(/ && !/;$/ && !/=>/ && !/ (class|record|struct) / { start = FNR; name = $0; file = FILENAME }
  /^    }$/ && start { len = FNR - start + 1; if (len > best) { best = len; where = file ":" start } start = 0 }
  END { printf "longest CLI method: %d lines (%s)\n", best, where }'
echo "CLI source: $(cs src/FaceNet.Cli | xargs cat | wc -l) lines"
echo "CLI methods over 50 lines: $(cs src/FaceNet.Cli | xargs awk '
  FNR == 1 { start = 0 }
  /^    (private|public|internal|protected)[^=;]*\(/ && !/;$/ && !/=>/ && !/ (class|record|struct) / { start = FNR }
  /^    }$/ && start { if (FNR - start + 1 > 50) n++; start = 0 }
  END { print n + 0 }')"
several=0
for f in $(cs src); do
  n=$(grep -cE '^(public|\[.*\] *public) +((sealed|static|abstract|readonly|partial|record) +)*(class|record|enum|interface|struct) ' "$f" || true)
  [ "$n" -gt 1 ] && several=$((several + 1))
done
echo "files in src with several public top-level types: $several"
echo "files in src over 500 lines: $(cs src | xargs wc -l | grep -v ' total$' | awk '$1 > 500 {printf "%s (%d) ", $2, $1; n++} END {print "= " n + 0}')"
echo "(Delegate) casts in the service: $(cs src/FaceNet.Service | xargs grep -c '(Delegate)' | awk -F: '{s += $2} END {print s + 0}')"
echo "query strings parsed by hand in the service: $(cs src/FaceNet.Service | xargs grep -c 'Request.Query\[' | awk -F: '{s += $2} END {print s + 0}')"
echo "InternalsVisibleTo to assemblies other than the tests: $(grep -h 'InternalsVisibleTo' src/*/*.csproj | grep -vc 'FaceNet.Tests' || true)"
echo "README.md: $(wc -c < README.md) bytes, $(wc -l < README.md) lines"
if [ -d docs ]; then
  pages=$(find docs -name '*.md' | sort)
  echo "docs/: $(echo "$pages" | wc -l) pages, $(cat $pages | wc -c) bytes; largest $(wc -c $pages | grep -v ' total$' | sort -n | tail -1 | awk '{print $2 ", " $1 " bytes"}')"
fi
echo "C# blocks in README.md and docs/ (compiled by the packaging test): $(cat README.md $(find docs -name '*.md' 2>/dev/null) | grep -c '^ *```csharp' || true)"
