/* The Qt key types on Windows: not implemented yet (issue 7's Windows half). Every
 * operation answers CSHM_ENOTSUP, through src/common/keytype.c's table. */
#include "keytype.h"

extern const cshm__keytype cshm__keytype_unsupported; /* src/common/keytype.c */

/* The backend's Qt key types, indexed by cshm_key_type - CSHM_KEY_QT_LEGACY. */
extern const cshm__keytype *const cshm__keytype_qt[3];
const cshm__keytype *const cshm__keytype_qt[3] = {
    &cshm__keytype_unsupported, &cshm__keytype_unsupported, &cshm__keytype_unsupported};
