/* .ci/steps/52-msvc-syntax.sh: the UCRT and the Windows SDK have no <sys/mman.h>. */
#error "<sys/mman.h> is not in the UCRT: this source does not build with MSVC"
