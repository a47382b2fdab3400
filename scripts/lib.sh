# Shared by scripts/test.sh and scripts/dev.sh.

step() { printf '\n==> %s\n' "$*"; }

# Installs librocksdb-dev, libssl-dev and pkg-config when missing (apt-get, as root).
install_system_packages() {
  missing=()
  if ! command -v pkg-config >/dev/null 2>&1; then
    missing=(pkg-config librocksdb-dev libssl-dev)
  else
    pkg-config --exists rocksdb || missing+=(librocksdb-dev)
    pkg-config --exists libcrypto || missing+=(libssl-dev)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq "${missing[@]}"
    else
      echo "error: missing system packages: ${missing[*]}" >&2
      echo "run as root, or first: sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  else
    echo "present"
  fi
}
