/* cshm.h alone, as the first and only include: it must compile as C11 with
 * -Wall -Wextra -pedantic -Werror (or /W4 /WX), for a static and a shared cshm. */
#include <cshm/cshm.h>
