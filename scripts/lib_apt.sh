# Sourced by the install scripts: `apt_install PACKAGE...` installs Debian packages with apt
# (as root, or through sudo), with a clear error naming what failed. `apt-get update` runs
# once per CI job (APT_UPDATED is exported for the scripts called after it).

apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: apt-get is not available; install $* with your system's package manager" >&2
        return 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "error: run this script as root (or install sudo) to install $*" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${APT_UPDATED:-}" ]; then
        if ! $sudo apt-get update; then
            echo "error: 'apt-get update' failed; check the network / apt sources" >&2
            return 1
        fi
        export APT_UPDATED=1
    fi
    if ! $sudo apt-get install -y --no-install-recommends "$@"; then
        echo "error: 'apt-get install $*' failed" >&2
        return 1
    fi
}
