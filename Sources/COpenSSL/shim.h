#ifndef KEYRAFT_COPENSSL_SHIM_H
#define KEYRAFT_COPENSSL_SHIM_H

#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#endif
