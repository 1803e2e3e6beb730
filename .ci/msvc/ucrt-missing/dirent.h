/* .ci/steps/52-msvc-syntax.sh: the UCRT and the Windows SDK have no <dirent.h>. */
#error "<dirent.h> is not in the UCRT: this source does not build with MSVC"
