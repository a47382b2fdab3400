#ifndef KEYRAFT_COPENSSL_SHIM_H
#define KEYRAFT_COPENSSL_SHIM_H

#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#endif
