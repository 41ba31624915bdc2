use super::*;

const ME: &str = "{ me { id } }";

fn hex_of(text: &str) -> String {
    hex::encode(sha256(text))
}

fn by_hash(hash: &str, query: &str) -> Request {
    let mut request = Request::new(query);
    let mut persisted = async_graphql::indexmap::IndexMap::new();
    persisted.insert(async_graphql::Name::new("version"), Value::from(1));
    persisted.insert(async_graphql::Name::new("sha256Hash"), Value::from(hash));
    request
        .extensions
        .insert("persistedQuery".into(), Value::Object(persisted));
    request
}

fn code_of(error: &ServerError) -> String {
    match error.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(Value::String(code)) => code.clone(),
        other => panic!("no code: {other:?}"),
    }
}

#[test]
fn a_hash_alone_is_not_found_until_sent_with_its_query() {
    let persisted = Persisted::automatic(10);
    let error = persisted
        .lookup(&mut by_hash(&hex_of(ME), ""))
        .err()
        .expect("not kept yet");
    assert_eq!(error.message, NOT_FOUND_MESSAGE);
    assert_eq!(code_of(&error), NOT_FOUND);

    let mut with_query = by_hash(&hex_of(ME), ME);
    let Ok(Lookup::Keep(hash)) = persisted.lookup(&mut with_query) else {
        panic!("the query and its hash are kept");
    };
    persisted.keep(hash, Document::parse(ME).expect("parses"));

    let mut again = by_hash(&hex_of(ME).to_uppercase(), "");
    let Ok(Lookup::Found(found)) = persisted.lookup(&mut again) else {
        panic!("found by its hash");
    };
    assert_eq!(found.text(), ME);
    assert_eq!(again.query, ME, "the request's text is filled in");
}

#[test]
fn a_hash_that_is_not_the_querys_is_refused_and_nothing_kept() {
    let persisted = Persisted::automatic(10);
    let error = persisted
        .lookup(&mut by_hash(&hex_of("{ other }"), ME))
        .err()
        .expect("mismatch");
    assert_eq!(code_of(&error), code::BAD_USER_INPUT);
    assert!(error.message.contains("sha256Hash"), "{}", error.message);
    assert!(persisted.is_empty());
    for bad in ["", "abc", &"g".repeat(64), &"a".repeat(66)] {
        let error = persisted
            .lookup(&mut by_hash(bad, ""))
            .err()
            .expect("not a hash");
        assert!(
            error.message.contains("64 hexadecimal"),
            "{}",
            error.message
        );
    }
}

#[test]
fn kept_documents_are_bounded_by_count_and_by_length() {
    let persisted = Persisted::automatic(3);
    for i in 0..10 {
        let text = format!("{{ a{i}: me {{ id }} }}");
        let Ok(Lookup::Keep(hash)) = persisted.lookup(&mut by_hash(&hex_of(&text), &text)) else {
            panic!("kept");
        };
        persisted.keep(hash, Document::parse(&text).expect("parses"));
    }
    assert_eq!(persisted.len(), 3);
    let long = format!("{ME}{}", " ".repeat(LONGEST));
    assert!(matches!(
        persisted.lookup(&mut by_hash(&hex_of(&long), &long)),
        Ok(Lookup::Text)
    ));
}

#[test]
fn turned_off_a_hash_alone_is_not_supported_and_a_query_runs_as_text() {
    let persisted = Persisted::automatic(0);
    let error = persisted
        .lookup(&mut by_hash(&hex_of(ME), ""))
        .err()
        .expect("off");
    assert_eq!(code_of(&error), NOT_SUPPORTED);
    assert!(matches!(
        persisted.lookup(&mut by_hash(&hex_of(ME), ME)),
        Ok(Lookup::Text)
    ));
}

#[test]
fn trusted_documents_run_by_id_by_hash_or_by_their_text_and_nothing_else() {
    let manifest = format!(
        r#"{{ "op-1": "{ME}", "{}": "{{ me {{ email }} }}" }}"#,
        "b".repeat(8)
    );
    let persisted =
        Persisted::trusted(TrustedDocuments::from_json("m.json", &manifest).expect("reads"));
    let mut by_id = Request::new("");
    by_id
        .extensions
        .insert(DOCUMENT_ID.into(), Value::from("op-1"));
    assert!(matches!(persisted.lookup(&mut by_id), Ok(Lookup::Found(_))));
    assert_eq!(by_id.query, ME);
    let mut prefixed = Request::new("");
    prefixed.extensions.insert(
        DOCUMENT_ID.into(),
        Value::from(format!("sha256:{}", hex_of(ME))),
    );
    assert!(matches!(
        persisted.lookup(&mut prefixed),
        Ok(Lookup::Found(_))
    ));
    assert!(matches!(
        persisted.lookup(&mut by_hash(&hex_of(ME), "")),
        Ok(Lookup::Found(_))
    ));
    assert!(matches!(
        persisted.lookup(&mut Request::new(ME)),
        Ok(Lookup::Found(_))
    ));

    let error = persisted
        .lookup(&mut Request::new("{ me { displayName } }"))
        .err()
        .expect("not trusted");
    assert_eq!(code_of(&error), NOT_TRUSTED);
    let longer = format!("{ME}{}", " ".repeat(100_000));
    let error = persisted
        .lookup(&mut Request::new(longer))
        .err()
        .expect("longer than any trusted document");
    assert_eq!(code_of(&error), NOT_TRUSTED);
    let other = "{ me { displayName } }";
    let error = persisted
        .lookup(&mut by_hash(&hex_of(other), other))
        .err()
        .expect("not registered either");
    assert_eq!(code_of(&error), NOT_FOUND);
    let error = persisted
        .lookup(&mut by_hash(&hex_of(ME), "{ me { email } }"))
        .err()
        .expect("a text that is not the hash's");
    assert_eq!(code_of(&error), code::BAD_USER_INPUT);
}

#[test]
fn a_manifest_names_what_is_wrong_with_it() {
    let errors = TrustedDocuments::from_json("m.json", "[1, 2]")
        .err()
        .expect("not an object");
    assert!(
        errors[0]
            .to_string()
            .starts_with("m.json is not a manifest")
    );
    let errors = TrustedDocuments::from_json("m.json", "{}")
        .err()
        .expect("empty");
    assert_eq!(errors[0].to_string(), "m.json holds no document");
    let errors =
        TrustedDocuments::from_json("m.json", r#"{ "a": "{ me { id }", "b": "{ me { id } }" }"#)
            .err()
            .expect("one does not parse");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().starts_with("document a: "),
        "{}",
        errors[0]
    );
}
