#ifndef MIG_DEFDISK_H
#define MIG_DEFDISK_H
/*
 * Where a definition keeps a disk's image: what the destination of a
 * managed migration creates when it is missing.  No I/O.
 */
#include <stddef.h>

#include "config/def.h"

/*
 * The image file of disk id (as QEMU names it: the -device's id, else the
 * drive's) in definition df, and its format.  The -device with that id
 * names its drive (else id is the drive); a -drive of that id (or, with
 * none, the name QEMU gives it: ide0-hd1 for if=ide,index=1, virtio0) holds
 * file= and format=; a -blockdev of that node-name, in key=value or JSON
 * form, holds file.filename= with its driver as the format, or is
 * followed through file=NODE (filters such as throttle, and libvirt's
 * format node on top of a separate protocol node, whose filename= it
 * takes with the format above it).  Returns 0 with path and fmt ("" if
 * the definition does not say: raw), or -1 if it names no file for id.
 */
int defdisk_file(const struct def *df, const char *id, char *path,
    size_t len, char *fmt, size_t fmtlen);

#endif
