/* Writes the configuration reference: build/tests/tools/config_doc > docs/CONFIG.md */
#include "linerate/config.h"

int main(void)
{
    lr_cp_config_write_doc(stdout);
    return 0;
}
