//! Co-signing a visit offline (ADR 29): the volunteer's phone shows the visit's summary,
//! the elder's (or a household proxy's) own phone signs it with the key it registered at
//! enrollment, and the volunteer's phone stores the signature with the visit. The taps of
//! the elder's tag are taken at check-in and check-out (`visits.rs`).

use crate::documents::member;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{CoSignature, Role, Visit, VisitId, VisitSummary};
use crate::notify::Topic;
use crate::views::VisitView;

impl Engine {
    /// The summary of a finished visit of this volunteer, for the elder's phone to sign
    /// (its text is what the QR code shows).
    pub fn visit_summary(&self, id: &VisitId) -> Result<VisitSummary> {
        self.require(&[Role::Volunteer], "showing a visit for the elder to sign")?;
        summary_of(&self.own_visit(id)?)
    }

    /// Signs a volunteer's visit summary on the elder's (or a household proxy's) phone,
    /// with this device's own key. Needs no network: the relay checks later that the key is
    /// this device's and that the signer is the elder or of the elder's household.
    pub fn cosign_visit(&self, summary_text: &str) -> Result<CoSignature> {
        self.require(&[Role::Elder, Role::FamilyProxy], "co-signing a visit")?;
        let summary = VisitSummary::parse(summary_text)?;
        if summary.volunteer == self.identity.member {
            return Err(Error::NotAllowed("you cannot co-sign your own visit".into()));
        }
        let key = self.signing_key()?.ok_or_else(|| {
            Error::NotAllowed(
                "this phone has no signing key: it was enrolled before co-signing existed. Ask the coordinator for a new enrollment code and enroll it again".into(),
            )
        })?;
        Ok(CoSignature {
            visit: summary.visit.clone(),
            signer: self.identity.member.clone(),
            device: self.identity.device.clone(),
            public_key: key.public(),
            signature: key.sign(summary.text().as_bytes()),
        })
    }

    /// Stores the elder's phone's co-signature (its text, scanned back) with the visit it
    /// signs. Refused, with nothing stored, if it is for another visit, another version of
    /// it, or does not verify under the key it names.
    pub fn attach_cosignature(&mut self, id: &VisitId, signature_text: &str) -> Result<VisitView> {
        self.require(&[Role::Volunteer], "storing the elder's co-signature")?;
        let signature = CoSignature::parse(signature_text)?;
        let visit = self.own_visit(id)?;
        self.refuse_if_decided(&visit)?;
        if signature.visit != *id {
            return Err(Error::invalid(format!(
                "this co-signature is for visit {}, not {id}; show the elder's phone the code of this visit",
                signature.visit
            )));
        }
        if signature.signer == self.identity.member {
            return Err(Error::NotAllowed("you cannot co-sign your own visit".into()));
        }
        if !signature.signs(&summary_of(&visit)?) {
            return Err(Error::invalid(
                "the co-signature does not match this visit as it is on your phone (the times differ, or the code was misread); show the elder's phone the code again",
            ));
        }
        let own = self.own_doc_id();
        self.write(id.as_str(), &[Topic::Visits], &[(own, &|tx| member::put_cosignature(tx, id, &signature))])?;
        self.visit_view(id)
    }
}

/// The summary of `visit`, once it is checked out.
fn summary_of(visit: &Visit) -> Result<VisitSummary> {
    let check_out = visit.check_out.ok_or_else(|| {
        Error::invalid(format!("visit {} is still open; check out first, then let the elder's phone sign it", visit.id))
    })?;
    Ok(VisitSummary {
        visit: visit.id.clone(),
        volunteer: visit.volunteer.clone(),
        elder: visit.elder.clone(),
        check_in: visit.check_in.timestamp_millis(),
        check_out: check_out.timestamp_millis(),
    })
}
