#!/usr/bin/env bash
# The tests, on a fresh machine too: installs what they need beyond dotnet (Debian's PostgreSQL server
# for the replicated gallery, Chromium and its driver for the web page, FFmpeg for video, Python for an HTTP
# client that sends its whole body first) when it is missing,
# then runs them.
set -euo pipefail
cd "$(dirname "$0")"
need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -x /usr/bin/ffmpeg ] || need+=(ffmpeg)
command -v python3 > /dev/null || need+=(python3)   # a client that sends its whole body before reading (urllib)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]} with apt-get"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet test FaceNet.sln -c Release "$@"
