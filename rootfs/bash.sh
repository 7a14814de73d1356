# Bash only: the base already has bash and coreutils.
true
