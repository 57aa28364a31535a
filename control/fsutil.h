/* Small file-system helpers shared by the control plane (defined in control/spool.c). */
#ifndef LINERATE_CP_FSUTIL_H
#define LINERATE_CP_FSUTIL_H

/* mkdir -p with mode 0755: creates `path` and its missing parents. Returns 0 or a negative
 * errno (-ENAMETOOLONG for a path longer than PATH_MAX). */
int lr_cp_mkdir_p(const char *path);

#endif
