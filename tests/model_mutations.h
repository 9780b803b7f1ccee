// SPDX-License-Identifier: MIT
/* model_mutations.h: test_model.c's table of corrupt model files: each a good file's bytes
 * changed one way (truncated, a header length, a replaced or removed header field, a tensor
 * element poked), the status a load must return and a substring its message must hold. Included
 * once, by test_model.c, after check.h. */
#ifndef MLPCL_TESTS_MODEL_MUTATIONS_H
#define MLPCL_TESTS_MODEL_MUTATIONS_H

typedef enum kind {
    TRUNCATE,   /* keep the first n bytes (n < 0: all but −n) */
    SET_HLEN,   /* the 8-byte header length := n (n < 0: 2^64 − 1) */
    REPLACE,    /* the first a in the header := b */
    SET_HEADER, /* the header := a */
    DELETE,     /* remove tensor a from the header */
    TRIM,       /* remove the header's padding */
    POKE,       /* element n of tensor a := x */
} kind;

typedef struct mutation {
    const char *label;
    int f32; /* mutate the F32 file, not the F64 one */
    kind k;
    const char *a, *b;
    long long n;
    double x;
    int status;
    const char *expect; /* a substring of the message */
} mutation;

#define BAD(...) MLPCL_ERR_DATA, __VA_ARGS__

static const mutation mutations[] = {
    {"unchanged", 0, REPLACE, "{", "{", 0, 0, MLPCL_OK, ""},
    {"no padding", 0, TRIM, 0, 0, 0, 0, MLPCL_OK, ""},
    {"empty file", 0, TRUNCATE, 0, 0, 0, 0, BAD("0 bytes, too short")},
    {"7 bytes", 0, TRUNCATE, 0, 0, 7, 0, BAD("too short")},
    {"length only", 0, TRUNCATE, 0, 0, 8, 0, BAD("runs past the end of the file (8 bytes)")},
    {"half a header", 0, TRUNCATE, 0, 0, 200, 0, BAD("runs past the end of the file")},
    {"no data", 0, TRUNCATE, 0, 0, -912, 0, BAD("run past the end of the data section")},
    {"last byte cut", 0, TRUNCATE, 0, 0, -1, 0, BAD("train.velocity: data_offsets [480, 912]")},
    {"header length 0", 0, SET_HLEN, 0, 0, 0, 0, BAD("header length 0 (bytes 0-7) is 0")},
    {"header length huge", 0, SET_HLEN, 0, 0, 1LL << 40, 0, BAD("runs past the end")},
    {"header length -1", 0, SET_HLEN, 0, 0, -1, 0, BAD("18446744073709551615")},
    {"garbage", 0, SET_HEADER, "this is not JSON", 0, 0, 0, BAD("not valid JSON: error at byte 8")},
    {"unclosed", 0, SET_HEADER, "{\"a\": [1, 2", 0, 0, 0, BAD("not valid JSON")},
    {"array", 0, SET_HEADER, "[1, 2, 3]", 0, 0, 0, BAD("not a JSON object starting at byte 8")},
    {"leading space", 0, SET_HEADER, " {}", 0, 0, 0, BAD("not a JSON object starting at byte 8")},
    {"Latin-1", 0, REPLACE, "Test device", "Test d\xe9vice", 0, 0, BAD("not valid UTF-8 at byte ")},
    {"surrogate", 0, REPLACE, "Test device", "Test d\xed\xa0\x80vice", 0, 0,
     BAD("not valid UTF-8 at byte ")},
    {"trailing text", 0, SET_HEADER, "{} x", 0, 0, 0, BAD("text after the header's JSON")},
    {"no metadata", 0, SET_HEADER, "{}", 0, 0, 0, BAD("no __metadata__ (not an mlpcl model?)")},
    {"metadata 7", 0, REPLACE, "\"__metadata__\":{", "\"__metadata__\":7,\"x\":{", 0, 0,
     BAD("a __metadata__ that is not an object")},
    {"metadata twice", 0, REPLACE, "\"layers.1.weight\":",
     "\"__metadata__\":{},\"layers.1.weight\":", 0, 0, BAD("__metadata__ twice")},
    {"number metadata", 0, REPLACE, "\"epoch\":\"12\"", "\"epoch\":12", 0, 0,
     BAD("__metadata__ \"epoch\" is not a string")},
    {"format torch", 0, REPLACE, "\"mlpcl\"", "\"torch\"", 0, 0,
     BAD("format is \"torch\", not \"mlpcl\"")},
    {"no format", 0, REPLACE, "\"format\":\"mlpcl\",", "", 0, 0, BAD("has no \"format\"")},
    {"loss twice", 0, REPLACE, "\"loss\":\"ce\"", "\"loss\":\"ce\",\"loss\":\"mse\"", 0, 0,
     BAD("has \"loss\" twice")},
    {"layers x", 0, REPLACE, "\"3,5,4,2\"", "\"3,5,x,2\"", 0, 0,
     BAD("item 3 \"x\" is not a whole number in 1 … 1000000")},
    {"layers one", 0, REPLACE, "\"3,5,4,2\"", "\"3\"", 0, 0, BAD("needs at least 2 widths")},
    {"layers 0", 0, REPLACE, "\"3,5,4,2\"", "\"3,0,4,2\"", 0, 0, BAD("item 2 \"0\"")},
    {"layers huge", 0, REPLACE, "\"3,5,4,2\"", "\"3,5,4,2000000\"", 0, 0, BAD("item 4")},
    {"layers -5", 0, REPLACE, "\"3,5,4,2\"", "\"3,-5,4,2\"", 0, 0, BAD("item 2 \"-5\"")},
    {"layers space", 0, REPLACE, "\"3,5,4,2\"", "\"3, 5,4,2\"", 0, 0, BAD("item 2 \" 5\"")},
    {"layers empty item", 0, REPLACE, "\"3,5,4,2\"", "\"3,5,4,\"", 0, 0, BAD("item 4 \"\"")},
    {"too many parameters", 0, REPLACE, "\"3,5,4,2\"", "\"3,1000000,1000000,2\"", 0, 0,
     BAD("more than 2147483647 parameters")},
    {"layers fewer", 0, REPLACE, "\"3,5,4,2\"", "\"3,5,4\"", 0, 0,
     BAD("activations \"relu,tanh,sigmoid\" has 3 entries; layers \"3,5,4\" has 2 layers")},
    {"activations 2", 0, REPLACE, "relu,tanh,sigmoid", "relu,tanh", 0, 0, BAD("has 2 entries")},
    {"activation gelu", 0, REPLACE, "relu,tanh,sigmoid", "relu,tanh,gelu", 0, 0,
     BAD("layer 3's \"gelu\" is not sigmoid, tanh, relu or linear")},
    {"loss mae", 0, REPLACE, "\"loss\":\"ce\"", "\"loss\":\"mae\"", 0, 0,
     BAD("loss \"mae\" is not mse or ce")},
    {"seed -1", 0, REPLACE, "\"18446744073709551615\"", "\"-1\"", 0, 0,
     BAD("seed \"-1\" is not a whole number")},
    {"seed 2^64", 0, REPLACE, "\"18446744073709551615\"", "\"18446744073709551616\"", 0, 0,
     BAD("seed")},
    {"no iteration", 0, REPLACE, "\"iteration\"", "\"iterations\"", 0, 0,
     BAD("has no \"iteration\"")},
    {"long version", 0, REPLACE, "\"version\":\"", "\"version\":\"0123456789012345678901234567890",
     0, 0, BAD("version is longer than 31 bytes")},
    {"one class", 0, REPLACE, "\"class_names\":\"[\\\"cat\\\",", "\"class_names\":\"[", 0, 0,
     BAD("class_names has 1 names; the network has 2 outputs")},
    {"classes not a list", 0, REPLACE, "\"class_names\":\"[", "\"class_names\":\"{", 0, 0,
     BAD("not a JSON array of strings")},
    {"classes and more", 0, REPLACE, "comma\\\"]\"", "comma\\\"] x\"", 0, 0,
     BAD("not a JSON array of strings")},
    {"dtype I8", 0, REPLACE, "\"dtype\":\"F64\"", "\"dtype\":\"I8\"", 0, 0,
     BAD("tensor layers.1.weight: dtype \"I8\" is not F32 or F64")},
    {"dtype 64", 0, REPLACE, "\"dtype\":\"F64\"", "\"dtype\":64", 0, 0,
     BAD("dtype (not a string)")},
    {"mixed dtypes", 0, REPLACE, "\"layers.2.bias\":{\"dtype\":\"F64\"",
     "\"layers.2.bias\":{\"dtype\":\"F32\"", 0, 0,
     BAD("tensor layers.2.bias is F32; expected F64")},
    {"norm as F32", 1, REPLACE, "\"norm.std\":{\"dtype\":\"F64\"",
     "\"norm.std\":{\"dtype\":\"F32\"", 0, 0, BAD("tensor norm.std is F32; expected F64")},
    {"shape swapped", 0, REPLACE, "\"shape\":[5,3]", "\"shape\":[3,5]", 0, 0,
     BAD("tensor layers.1.weight has shape [3, 5]; layers \"3,5,4,2\" needs [5, 3]")},
    {"shape rank 3", 0, REPLACE, "\"shape\":[5,3]", "\"shape\":[5,3,1]", 0, 0,
     BAD("has shape [5, 3, 1]")},
    {"shape string", 0, REPLACE, "\"shape\":[5,3]", "\"shape\":\"5x3\"", 0, 0,
     BAD("has shape (not a list)")},
    {"shape 2.5", 0, REPLACE, "\"shape\":[5,3]", "\"shape\":[5,3.5]", 0, 0,
     BAD("has shape [5, 3.5]")},
    {"velocity shape", 0, REPLACE, "\"shape\":[54]", "\"shape\":[53]", 0, 0,
     BAD("tensor train.velocity has shape [53]")},
    {"offsets short", 0, REPLACE, "[48,168]", "[48,160]", 0, 0,
     BAD("layers.1.weight: data_offsets [48, 160] hold 112 bytes; 15 F64 values need 120")},
    {"offsets short F32", 1, REPLACE, "[48,108]", "[48,104]", 0, 0, BAD("15 F32 values need 60")},
    {"offsets overlap", 0, REPLACE, "[168,208]", "[160,200]", 0, 0,
     BAD("layers.1.bias: data_offsets [160, 200] overlap those of layers.1.weight")},
    {"offsets past the end", 0, REPLACE, "[480,912]", "[488,920]", 0, 0,
     BAD("data_offsets [488, 920] run past the end of the data section (912 bytes")},
    {"offsets reversed", 0, REPLACE, "[48,168]", "[168,48]", 0, 0, BAD("begin ≤ end")},
    {"offsets negative", 0, REPLACE, "[48,168]", "[-8,160]", 0, 0, BAD("whole numbers")},
    {"offsets one", 0, REPLACE, "[48,168]", "[168]", 0, 0, BAD("data_offsets must be")},
    {"offsets fraction", 0, REPLACE, "[48,168]", "[48,168.5]", 0, 0, BAD("data_offsets must be")},
    {"no data_offsets", 0, REPLACE, "\"data_offsets\":[48,168]", "\"offsets\":[48,168]", 0, 0,
     BAD("tensor layers.1.weight: unknown key \"offsets\"")},
    {"no dtype", 0, REPLACE, "\"dtype\":\"F64\",", "", 0, 0,
     BAD("tensor layers.1.weight has no \"dtype\"")},
    {"entry 7", 0, REPLACE, "\"layers.1.bias\":{", "\"layers.1.bias\":7,\"x\":{", 0, 0,
     BAD("tensor layers.1.bias: entry is not a JSON object")},
    {"missing bias", 0, DELETE, "layers.3.bias", 0, 0, 0, BAD("missing tensor layers.3.bias")},
    {"missing std", 0, DELETE, "norm.std", 0, 0, 0,
     BAD("missing tensor norm.std (norm.mean is there)")},
    {"unused tail", 0, DELETE, "train.velocity", 0, 0, 0, BAD("432 unused bytes at byte ")},
    {"extra tensor", 0, REPLACE, "\"norm.mean\"", "\"norm.median\"", 0, 0,
     BAD("unknown tensor \"norm.median\"")},
    {"layer 4", 0, REPLACE, "\"layers.3.weight\"", "\"layers.4.weight\"", 0, 0,
     BAD("unknown tensor \"layers.4.weight\" (layers \"3,5,4,2\" has 3 layers)")},
    {"layer 01", 0, REPLACE, "\"layers.1.weight\"", "\"layers.01.weight\"", 0, 0,
     BAD("unknown tensor \"layers.01.weight\"")},
    {"repeated tensor", 0, REPLACE, "\"layers.1.bias\"", "\"layers.1.weight\"", 0, 0,
     BAD("repeated tensor \"layers.1.weight\"")},
    {"NaN weight", 0, POKE, "layers.2.weight", 0, 17, NAN, BAD("layers.2.weight[17] is NaN")},
    {"Inf bias", 0, POKE, "layers.3.bias", 0, 1, INFINITY, BAD("layers.3.bias[1] is Inf")},
    {"-Inf F32", 1, POKE, "layers.1.weight", 0, 0, -INFINITY, BAD("layers.1.weight[0] is -Inf")},
    {"NaN velocity", 0, POKE, "train.velocity", 0, 53, NAN, BAD("train.velocity[53] is NaN")},
    {"NaN mean", 1, POKE, "norm.mean", 0, 2, NAN, BAD("norm.mean[2] is NaN")},
    {"std 0", 0, POKE, "norm.std", 0, 1, 0.0, BAD("norm.std[1] is 0; a standard deviation")},
    {"std -1", 1, POKE, "norm.std", 0, 2, -1.0, BAD("norm.std[2] is -1")},
};

#endif
