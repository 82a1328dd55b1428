export const id = 819;
export const ids = [819];
export const modules = {

/***/ 819:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   KeylessSigner: () => (/* binding */ KeylessSigner)
/* harmony export */ });
/* harmony import */ var _sigstore_bundle__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(6124);
/* harmony import */ var _sigstore_sign__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5775);
/* harmony import */ var _sigstore_sign_dist_signer_fulcio_ca_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(815);
/* harmony import */ var _sigstore_sign_dist_signer_fulcio_ephemeral_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(356);
/* harmony import */ var _sigstore_sign_dist_util_oidc_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(7303);
/* harmony import */ var _sigstore_sign_dist_witness_tsa_client_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(6813);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(9470);
/* harmony import */ var _trust_js__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(983);
/* harmony import */ var _cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__ = __webpack_require__(1794);
// Keyless signing through Sigstore (`sign: keyless`): an ephemeral key, a Fulcio certificate for
// the CI's OIDC identity (asked once per run, however many images are signed), each signature
// logged in Rekor and/or timestamped by a TSA. The bundles come from @sigstore/sign's builders;
// cosign reads them from its tag scheme's annotations (cosign's pkg/oci/static and
// pkg/cosign/bundle: certificate, chain, Rekor bundle, RFC 3161 timestamp).


// Not exported by the package: its Fulcio client (which keeps the chain) and ephemeral key.







/** The ephemeral key and its Fulcio certificate: one request, whatever signs with it. */
class RunCertificate {
    ca;
    token;
    key = new _sigstore_sign_dist_signer_fulcio_ephemeral_js__WEBPACK_IMPORTED_MODULE_3__.EphemeralSigner();
    chain;
    constructor(ca, token) {
        this.ca = ca;
        this.token = token;
    }
    /** The certificate, then its chain up to the root (PEM). */
    certificates() {
        this.chain ??= this.request();
        return this.chain;
    }
    async request() {
        const token = await this.token();
        // Fulcio's proof of possession: the key signs the token's subject.
        const proof = await this.key.sign(Buffer.from((0,_sigstore_sign_dist_util_oidc_js__WEBPACK_IMPORTED_MODULE_4__.extractJWTSubject)(token)));
        if (proof.key.$case !== 'publicKey')
            throw new Error('the ephemeral key has no public key');
        return this.ca.createSigningCertificate(token, proof.key.publicKey, proof.signature);
    }
    async sign(data) {
        const [leaf] = await this.certificates();
        const { signature } = await this.key.sign(data);
        return { signature, key: { $case: 'x509Certificate', certificate: leaf } };
    }
}
/** Signs a run's images keylessly: `token` gives the CI's OIDC token when first needed. */
class KeylessSigner {
    instance;
    cert;
    messages;
    statements;
    tsa;
    constructor(instance, token) {
        this.instance = instance;
        const retry = { retries: 2 };
        this.cert = new RunCertificate(new _sigstore_sign_dist_signer_fulcio_ca_js__WEBPACK_IMPORTED_MODULE_2__.CAClient({ fulcioBaseURL: instance.fulcioUrl, retry, timeout: 30_000 }), token);
        const witnesses = [];
        if (instance.rekorUrl) {
            witnesses.push(new _sigstore_sign__WEBPACK_IMPORTED_MODULE_1__.RekorWitness({ rekorBaseURL: instance.rekorUrl, retry, timeout: 30_000 }));
        }
        if (instance.tsaUrl) {
            const tsa = { tsaBaseURL: instance.tsaUrl, retry, timeout: 30_000 };
            witnesses.push(new _sigstore_sign__WEBPACK_IMPORTED_MODULE_1__.TSAWitness(tsa));
            this.tsa = new _sigstore_sign_dist_witness_tsa_client_js__WEBPACK_IMPORTED_MODULE_5__.TSAClient(tsa);
        }
        this.messages = new _sigstore_sign__WEBPACK_IMPORTED_MODULE_1__.MessageSignatureBundleBuilder({ signer: this.cert, witnesses });
        this.statements = new _sigstore_sign__WEBPACK_IMPORTED_MODULE_1__.DSSEBundleBuilder({ signer: this.cert, witnesses });
    }
    /** cosign's image signature: `payload` (simple signing) signed, with its verification material. */
    async signPayload(payload) {
        const bundle = await this.guard(() => this.messages.create({ data: payload }));
        const content = bundle.content;
        if (content.$case !== 'messageSignature')
            throw new Error('not a message signature bundle');
        return {
            bytes: payload,
            annotations: {
                [_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .SIGNATURE_ANNOTATION */ .ZB]: content.messageSignature.signature.toString('base64'),
                ...(await this.material(bundle))
            },
            bundle: (0,_sigstore_bundle__WEBPACK_IMPORTED_MODULE_0__.bundleToJSON)(bundle)
        };
    }
    /** A DSSE envelope of the in-toto `statement`, as `cosign attest` writes it. */
    async attest(statement, predicateType) {
        const bundle = await this.guard(() => this.statements.create({ data: Buffer.from(JSON.stringify(statement)), type: _cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .IN_TOTO */ .B1 }));
        const content = bundle.content;
        if (content.$case !== 'dsseEnvelope')
            throw new Error('not a DSSE bundle');
        const bytes = Buffer.from(JSON.stringify((0,_sigstore_bundle__WEBPACK_IMPORTED_MODULE_0__.envelopeToJSON)(content.dsseEnvelope)));
        const material = await this.material(bundle);
        // cosign checks an attestation's timestamp over the envelope it reads (pkg/cosign/verify.go
        // VerifyRFC3161Timestamp), the bundle's covers the envelope's signature: one each.
        if (this.tsa) {
            material[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .TIMESTAMP_ANNOTATION */ .$n] = JSON.stringify({
                SignedRFC3161Timestamp: (await this.guard(() => this.tsa.createTimestamp(bytes))).toString('base64')
            });
        }
        return {
            bytes,
            annotations: { [_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .SIGNATURE_ANNOTATION */ .ZB]: '', predicateType, ...material },
            bundle: (0,_sigstore_bundle__WEBPACK_IMPORTED_MODULE_0__.bundleToJSON)(bundle)
        };
    }
    /** A failure of Fulcio, Rekor or the TSA in one line naming the instance (exit code 3). */
    async guard(f) {
        try {
            return await f();
        }
        catch (e) {
            const { fulcioUrl, rekorUrl, tsaUrl } = this.instance;
            const where = [fulcioUrl, rekorUrl, tsaUrl].filter(Boolean).join(', ');
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_6__/* .RemoteError */ .Hi(`keyless signing through Sigstore (${where}): ${causes(e)}`, {
                cause: e
            });
        }
    }
    /** The certificate, its chain, the Rekor entry and the timestamp, as cosign's annotations. */
    async material(bundle) {
        const [leaf, ...chain] = await this.cert.certificates();
        const out = { [_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .CERTIFICATE_ANNOTATION */ .oZ]: leaf };
        if (chain.length > 0)
            out[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .CHAIN_ANNOTATION */ .CB] = chain.join('');
        const entry = bundle.verificationMaterial.tlogEntries[0];
        if (entry)
            out[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .REKOR_BUNDLE_ANNOTATION */ .BJ] = JSON.stringify(rekorBundle(entry));
        const ts = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0];
        if (ts) {
            out[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_8__/* .TIMESTAMP_ANNOTATION */ .$n] = JSON.stringify({
                SignedRFC3161Timestamp: Buffer.from(ts.signedTimestamp).toString('base64')
            });
        }
        return out;
    }
}
/** An error and its causes' messages, in one bounded line (a server's answer is untrusted). */
function causes(e) {
    const parts = [];
    for (let c = e; c instanceof Error && parts.length < 3; c = c.cause)
        parts.push(c.message);
    return (0,_trust_js__WEBPACK_IMPORTED_MODULE_7__/* .oneLine */ .TN)(parts.join(': ') || String(e)).slice(0, 400);
}
function rekorBundle(entry) {
    return {
        SignedEntryTimestamp: Buffer.from(entry.inclusionPromise?.signedEntryTimestamp ?? Buffer.alloc(0)).toString('base64'),
        Payload: {
            body: Buffer.from(entry.canonicalizedBody).toString('base64'),
            integratedTime: Number(entry.integratedTime),
            logIndex: Number(entry.logIndex),
            logID: Buffer.from(entry.logId?.keyId ?? Buffer.alloc(0)).toString('hex')
        }
    };
}


/***/ })

};
