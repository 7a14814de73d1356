# Python 3 from Debian, with pip and venv.
apt_install python3 python3-pip python3-venv
# Two start-up imports every interpreter in the root would pay for nothing (about 0.6 ms of each
# `python3 -c pass`, measured): Debian's sitecustomize only tries to import apport's hook, which
# the root does not have; setuptools' distutils-precedence.pth imports its distutils shim at every
# start, for the rare `import distutils`, which then finds the standard library's (Python 3.11
# still has it; Python 3.12 dropped distutils, and its official images no longer carry setuptools).
rm -f "$ROOT"/etc/python3.*/sitecustomize.py "$ROOT"/usr/lib/python3.*/sitecustomize.py \
  "$ROOT"/usr/lib/python3/dist-packages/distutils-precedence.pth
record_version python "$(in_root python3 -c 'import platform; print(platform.python_version())')"
record_version pip "$(in_root python3 -m pip --version | cut -d' ' -f2)"
