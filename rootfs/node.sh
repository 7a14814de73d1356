# Node.js and npm from Debian.
apt_install nodejs npm
record_version node "$(in_root node --version)"
record_version npm "$(in_root npm --version)"
