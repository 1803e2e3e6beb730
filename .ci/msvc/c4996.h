/* Forced into every translation unit by .ci/steps/52-msvc-syntax.sh (clang in MSVC
 * mode, with mingw-w64's headers standing in for the Windows SDK and the UCRT).
 *
 * MSVC's UCRT headers mark the CRT functions it calls unsafe with
 * _CRT_INSECURE_DEPRECATE and the POSIX names with _CRT_NONSTDC_DEPRECATE; a use is
 * warning C4996, an error under /W4 /WX. mingw-w64's headers mark them only with
 * __MINGW_MSVC_COMPAT_WARNINGS, and then not the same set: strcpy is missing while
 * memcpy and memmove, which MSVC does not deprecate, are marked. So this header
 * includes the CRT headers and redeclares MSVC's list with the deprecated attribute:
 * a redeclaration adds the attribute, a use then fails -Werror as C4996 would. The
 * functions mingw-w64 defines inline (the printf/scanf family, over its own stdio)
 * cannot take an attribute after their definition: their names become macros for
 * deprecated functions of the same type instead. The list follows the UCRT's
 * headers (string.h, stdio.h, stdlib.h, io.h, process.h, direct.h; the time.h
 * functions are left out, no Windows source uses them);
 * _CRT_SECURE_NO_WARNINGS and _CRT_NONSTDC_NO_DEPRECATE turn each half off, as they
 * do with MSVC.
 *
 * What the UCRT does not have at all is made to fail too: pid_t and ssize_t (which
 * mingw-w64's sys/types.h defines) become undeclared names, and <unistd.h>,
 * <pthread.h> and friends are shadowed by the headers in ucrt-missing/, which
 * #error (the step puts that directory first on the include path). */
#ifndef CSHM_CI_MSVC_C4996_H
#define CSHM_CI_MSVC_C4996_H

#include <direct.h>
#include <io.h>
#include <process.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

#ifndef _CRT_SECURE_NO_WARNINGS
#define CSHM__C4996_UNSAFE __attribute__((deprecated("C4996: this function or variable may be unsafe")))
char *strcpy(char *, const char *) CSHM__C4996_UNSAFE;
char *strcat(char *, const char *) CSHM__C4996_UNSAFE;
char *strncpy(char *, const char *, size_t) CSHM__C4996_UNSAFE;
char *strncat(char *, const char *, size_t) CSHM__C4996_UNSAFE;
char *strtok(char *, const char *) CSHM__C4996_UNSAFE;
char *strerror(int) CSHM__C4996_UNSAFE;
wchar_t *wcscpy(wchar_t *, const wchar_t *) CSHM__C4996_UNSAFE;
wchar_t *wcscat(wchar_t *, const wchar_t *) CSHM__C4996_UNSAFE;
wchar_t *wcsncpy(wchar_t *, const wchar_t *, size_t) CSHM__C4996_UNSAFE;
wchar_t *wcsncat(wchar_t *, const wchar_t *, size_t) CSHM__C4996_UNSAFE;
#define sprintf cshm__c4996_sprintf
int cshm__c4996_sprintf(char *, const char *, ...) CSHM__C4996_UNSAFE;
#define vsprintf cshm__c4996_vsprintf
int cshm__c4996_vsprintf(char *, const char *, va_list) CSHM__C4996_UNSAFE;
#define sscanf cshm__c4996_sscanf
int cshm__c4996_sscanf(const char *, const char *, ...) CSHM__C4996_UNSAFE;
#define fscanf cshm__c4996_fscanf
int cshm__c4996_fscanf(FILE *, const char *, ...) CSHM__C4996_UNSAFE;
#define scanf cshm__c4996_scanf
int cshm__c4996_scanf(const char *, ...) CSHM__C4996_UNSAFE;
#define vsscanf cshm__c4996_vsscanf
int cshm__c4996_vsscanf(const char *, const char *, va_list) CSHM__C4996_UNSAFE;
#define vfscanf cshm__c4996_vfscanf
int cshm__c4996_vfscanf(FILE *, const char *, va_list) CSHM__C4996_UNSAFE;
#define swscanf cshm__c4996_swscanf
int cshm__c4996_swscanf(const wchar_t *, const wchar_t *, ...) CSHM__C4996_UNSAFE;
FILE *fopen(const char *, const char *) CSHM__C4996_UNSAFE;
FILE *freopen(const char *, const char *, FILE *) CSHM__C4996_UNSAFE;
FILE *_wfopen(const wchar_t *, const wchar_t *) CSHM__C4996_UNSAFE;
char *tmpnam(char *) CSHM__C4996_UNSAFE;
char *getenv(const char *) CSHM__C4996_UNSAFE;
wchar_t *_wgetenv(const wchar_t *) CSHM__C4996_UNSAFE;
size_t mbstowcs(wchar_t *, const char *, size_t) CSHM__C4996_UNSAFE;
size_t wcstombs(char *, const wchar_t *, size_t) CSHM__C4996_UNSAFE;
#endif

#ifndef _CRT_NONSTDC_NO_DEPRECATE
#define CSHM__C4996_POSIX __attribute__((deprecated("C4996: the POSIX name is deprecated; use the _-prefixed one")))
int getpid(void) CSHM__C4996_POSIX;
int fileno(FILE *) CSHM__C4996_POSIX;
FILE *fdopen(int, const char *) CSHM__C4996_POSIX;
int setmode(int, int) CSHM__C4996_POSIX;
int open(const char *, int, ...) CSHM__C4996_POSIX;
int close(int) CSHM__C4996_POSIX;
int read(int, void *, unsigned int) CSHM__C4996_POSIX;
int write(int, const void *, unsigned int) CSHM__C4996_POSIX;
int dup(int) CSHM__C4996_POSIX;
int dup2(int, int) CSHM__C4996_POSIX;
int isatty(int) CSHM__C4996_POSIX;
int unlink(const char *) CSHM__C4996_POSIX;
int access(const char *, int) CSHM__C4996_POSIX;
char *strdup(const char *) CSHM__C4996_POSIX;
wchar_t *wcsdup(const wchar_t *) CSHM__C4996_POSIX;
int putenv(const char *) CSHM__C4996_POSIX;
char *getcwd(char *, int) CSHM__C4996_POSIX;
int chdir(const char *) CSHM__C4996_POSIX;
int rmdir(const char *) CSHM__C4996_POSIX;
#endif

/* Not in the UCRT: a use is an unknown type name. */
#define pid_t cshm__ucrt_has_no_pid_t
#define ssize_t cshm__ucrt_has_no_ssize_t

#endif
