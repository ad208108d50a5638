#ifndef MIG_VERSION_H
#define MIG_VERSION_H
/* The release every program of mig reports with --version. */
#define MIG_VERSION "0.4.0"
#endif
