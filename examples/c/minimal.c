/* minimal.c — the smallest useful procreap program: list orphaned agent
 * processes with the default configuration. Scan only: nothing is signalled. */
#include <stdio.h>
#include "procreap.h"

int main(void)
{
    procreap_process_list *list = NULL;
    procreap_error *err = NULL;
    procreap_status st = procreap_find_orphans(NULL, &list, &err); /* NULL = defaults */
    if (st != PROCREAP_STATUS_OK) {
        fprintf(stderr, "procreap: %s\n", procreap_error_message(err));
        procreap_error_free(err);
        return 1;
    }
    for (size_t i = 0; i < list->len; i++)
        printf("%d %s (%.0fs) %s\n", list->items[i].pid, list->items[i].name,
               list->items[i].age_secs, list->items[i].cmdline);
    procreap_process_list_free(list);
    return 0;
}
