#ifndef KEYRAFT_CROCKSDB_SHIM_H
#define KEYRAFT_CROCKSDB_SHIM_H
#include <rocksdb/c.h>
#endif
