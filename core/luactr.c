#include "ns.h"
int main(void) { return 0; }
