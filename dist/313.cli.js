export const id = 313;
export const ids = [313];
export const modules = {

/***/ 7313:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   certIdentity: () => (/* binding */ certIdentity),
/* harmony export */   keylessVerifier: () => (/* binding */ keylessVerifier)
/* harmony export */ });
/* harmony import */ var _sigstore_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(5137);
/* harmony import */ var _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7154);
/* harmony import */ var _sigstore_tuf__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(4187);
/* harmony import */ var _sigstore_verify__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(3575);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(1455);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(6760);
/* harmony import */ var _cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(1794);







/** Fulcio's certificate extensions (sigstore/fulcio docs/oid-info.md). */
const OID = {
    issuerV1: '1.3.6.1.4.1.57264.1.1',
    issuer: '1.3.6.1.4.1.57264.1.8',
    sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
    sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14'
};
/** A verifier against the trusted root at `file`, or the public-good instance's (TUF). */
async function keylessVerifier(file, tempDir) {
    const verifiers = await loadVerifiers(file, tempDir);
    return (payload, annotations) => {
        const bundle = bundleOfLayer(payload, annotations);
        const logged = bundle.verificationMaterial.tlogEntries.length > 0;
        // The log's promise suffices; a TSA's time beside it is not read (@sigstore/core misreads
        // a GeneralizedTime whose fraction has fewer than three digits).
        if (logged)
            bundle.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] };
        (logged ? verifiers.logged : verifiers.timestamped).verify((0,_sigstore_verify__WEBPACK_IMPORTED_MODULE_3__/* .toSignedEntity */ .DC)(bundle, payload));
        // Who signed is the certificate that verified, never a second reading of the annotation.
        const content = bundle.verificationMaterial.content;
        if (content.$case !== 'x509CertificateChain')
            throw new Error('no certificate');
        return certIdentity(content.x509CertificateChain.certificates[0].rawBytes);
    };
}
async function loadVerifiers(file, tempDir) {
    const root = file
        ? _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_1__.TrustedRoot.fromJSON(JSON.parse(await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_4__.readFile)(file, 'utf8')))
        : await (0,_sigstore_tuf__WEBPACK_IMPORTED_MODULE_2__.getTrustedRoot)({ cachePath: node_path__WEBPACK_IMPORTED_MODULE_5__.join(tempDir, 'sigstore-tuf') });
    const material = (0,_sigstore_verify__WEBPACK_IMPORTED_MODULE_3__/* .toTrustMaterial */ .jO)(root);
    // CT logs where the instance has them (GitHub's has none).
    const ctlogThreshold = root.ctlogs.length > 0 ? 1 : 0;
    return {
        logged: new _sigstore_verify__WEBPACK_IMPORTED_MODULE_3__/* .Verifier */ .BL(material, { tlogThreshold: 1, tsaThreshold: 0, ctlogThreshold }),
        timestamped: new _sigstore_verify__WEBPACK_IMPORTED_MODULE_3__/* .Verifier */ .BL(material, { tlogThreshold: 0, tsaThreshold: 1, ctlogThreshold })
    };
}
/** The Sigstore bundle of a cosign `.sig` layer (cosign's pkg/cosign/bundle, read back). */
function bundleOfLayer(payload, a) {
    const certs = [
        ...pemCertificates(a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .CERTIFICATE_ANNOTATION */ .oZ] ?? '', 'certificate'),
        ...pemCertificates(a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .CHAIN_ANNOTATION */ .CB] ?? '', 'chain')
    ].map(c => ({ rawBytes: _sigstore_core__WEBPACK_IMPORTED_MODULE_0__.pem.toDER(c) }));
    if (certs.length === 0)
        throw new Error('no certificate');
    const rekor = a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .REKOR_BUNDLE_ANNOTATION */ .BJ]
        ? JSON.parse(a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .REKOR_BUNDLE_ANNOTATION */ .BJ])
        : undefined;
    const ts = a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .TIMESTAMP_ANNOTATION */ .$n]
        ? JSON.parse(a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .TIMESTAMP_ANNOTATION */ .$n])
        : undefined;
    return {
        mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
        verificationMaterial: {
            content: { $case: 'x509CertificateChain', x509CertificateChain: { certificates: certs } },
            tlogEntries: rekor ? [tlogEntry(rekor)] : [],
            timestampVerificationData: {
                rfc3161Timestamps: ts?.SignedRFC3161Timestamp
                    ? [{ signedTimestamp: Buffer.from(ts.SignedRFC3161Timestamp, 'base64') }]
                    : []
            }
        },
        content: {
            $case: 'messageSignature',
            messageSignature: {
                messageDigest: {
                    algorithm: _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_1__.HashAlgorithm.SHA2_256,
                    digest: _sigstore_core__WEBPACK_IMPORTED_MODULE_0__.crypto.digest('sha256', payload)
                },
                signature: Buffer.from(a[_cosign_tags_js__WEBPACK_IMPORTED_MODULE_6__/* .SIGNATURE_ANNOTATION */ .ZB] ?? '', 'base64')
            }
        }
    };
}
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/g;
/** The PEM certificates of an annotation: PEM blocks and whitespace only, else it is refused. */
function pemCertificates(text, what) {
    if (text.replace(PEM_CERTIFICATE, '').trim() !== '') {
        throw new Error(`its ${what} annotation holds more than PEM certificates`);
    }
    return text.match(PEM_CERTIFICATE) ?? [];
}
function tlogEntry(r) {
    const body = Buffer.from(r.Payload.body, 'base64');
    const kind = JSON.parse(body.toString('utf8'));
    return {
        logIndex: String(r.Payload.logIndex),
        logId: { keyId: Buffer.from(r.Payload.logID, 'hex') },
        kindVersion: { kind: kind.kind ?? '', version: kind.apiVersion ?? '' },
        integratedTime: String(r.Payload.integratedTime),
        inclusionPromise: { signedEntryTimestamp: Buffer.from(r.SignedEntryTimestamp, 'base64') },
        inclusionProof: undefined,
        canonicalizedBody: body
    };
}
/** Who a Fulcio certificate (PEM, or DER bytes) names: its subject, issuer, source repository and ref. */
function certIdentity(certificate) {
    const cert = _sigstore_core__WEBPACK_IMPORTED_MODULE_0__.X509Certificate.parse(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
    const ext = (oid) => {
        const value = cert.extension(oid)?.value;
        if (!value)
            return '';
        // Fulcio's newer extensions are DER UTF8Strings; the first ones raw bytes.
        return value[0] === 0x0c
            ? _sigstore_core__WEBPACK_IMPORTED_MODULE_0__.ASN1Obj.parseBuffer(Buffer.from(value)).value.toString('utf8')
            : value.toString('utf8');
    };
    const subject = cert.subjectAltName ?? '';
    const fromSubject = /@(refs\/[^@]+)$/.exec(subject)?.[1] ?? '';
    return {
        subject,
        issuer: ext(OID.issuer) || ext(OID.issuerV1),
        repository: ext(OID.sourceRepositoryUri),
        ref: ext(OID.sourceRepositoryRef) || fromSubject
    };
}


/***/ })

};
