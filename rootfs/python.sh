# Python 3 from Debian, with pip and venv.
apt_install python3 python3-pip python3-venv
record_version python "$(in_root python3 -c 'import platform; print(platform.python_version())')"
record_version pip "$(in_root python3 -m pip --version | cut -d' ' -f2)"
